using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using ServiceNodeInvoker.Standalone.Logging;

namespace ServiceNodeInvoker.Tests.Standalone;

/// <summary>The standalone host's console log, written in batches: every line once, in order, soon, in the stock format.</summary>
[Trait("Tier", "Fast")]
public sealed class BatchedConsoleLogTests
{
    /// <summary>A stream the provider writes to while the test reads it.</summary>
    private sealed class SharedStream : MemoryStream
    {
        public string Text() { lock (this) { return Encoding.UTF8.GetString(ToArray()); } }
        public override void Write(ReadOnlySpan<byte> buffer) { lock (this) { base.Write(buffer); } }
        public override void Write(byte[] buffer, int offset, int count) { lock (this) { base.Write(buffer, offset, count); } }
    }

    private static (ILoggerFactory Factory, BatchedConsoleLoggerProvider Provider) Create(Stream output)
    {
        var services = new ServiceCollection().AddLogging(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true; o.IncludeScopes = true; o.TimestampFormat = "HH:mm:ss.fff ";
        })).BuildServiceProvider();
        var provider = new BatchedConsoleLoggerProvider(services.GetServices<ConsoleFormatter>(), services.GetRequiredService<IOptions<ConsoleLoggerOptions>>(), output);
        var factory = LoggerFactory.Create(b => b.AddProvider(provider));
        return (factory, provider);
    }

    [Fact]
    public async Task Every_line_from_many_threads_arrives_once_and_in_each_threads_order()
    {
        var output = new SharedStream();
        var (factory, provider) = Create(output);
        var logger = factory.CreateLogger("Test.Category");
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                logger.LogInformation("thread {Thread} line {Line}", t, i);
            }
        })));
        provider.Dispose();

        var lines = output.Text().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(16_000, lines.Length);
        var seen = new ConcurrentDictionary<(int, int), int>();
        var last = new int[8];
        Array.Fill(last, -1);
        foreach (var line in lines)
        {
            Assert.Contains("info: Test.Category[0]", line);
            var words = line.Split(' ');
            var (thread, number) = (int.Parse(words[^3]), int.Parse(words[^1]));
            Assert.True(seen.TryAdd((thread, number), 1), $"duplicated: {line}");
            Assert.True(number > last[thread], $"out of order: {line}");
            last[thread] = number;
        }
    }

    [Fact]
    public async Task A_line_reaches_the_output_within_the_interval_without_a_shutdown_and_keeps_its_scopes()
    {
        var output = new SharedStream();
        var (factory, provider) = Create(output);
        using (provider)
        {
            var logger = factory.CreateLogger("Test.Category");
            using (logger.BeginScope("RequestId:{RequestId}", "req-42"))
            {
                logger.LogWarning(3002, "refused: {Code}", "unauthenticated");
            }
            await Poll.WhileNotAsync(() => output.Text().Contains("refused: unauthenticated")); // the timer flushes every 100 ms
            var text = output.Text();
            Assert.Contains("warn: Test.Category[3002] => RequestId:req-42 refused: unauthenticated", text);
            Assert.EndsWith("\n", text);
        }
    }
}
