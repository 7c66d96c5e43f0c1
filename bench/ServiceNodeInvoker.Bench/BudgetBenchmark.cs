using ServiceNodeInvoker.Primitives;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// The buffered-response budget under the load that broke earlier versions: 64 callers, each fetching a
/// body just under the 10 MiB MaxResponseBytes as an envelope, against the standalone host in its own
/// process. Reports the host's RSS before, at peak and after the load, against budget + baseline.
/// </summary>
public static class BudgetBenchmark
{
    public static async Task RunAsync(TimeSpan duration, int callers = 64)
    {
        using var pki = new BenchPki();
        await using var backend = await pki.StartBackendAsync();
        var start = StandaloneHostProcess.StartInfo(pki, backend, out var port);
        start.Environment["Invoker__Profiles__bench__Timeout"] = "120";
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(3) };
            client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey);
            const long size = 10L * 1024 * 1024 - 1024;
            HttpContent Request() => new StringContent(
                $"{{\"method\":\"GET\",\"url\":\"{backend.BaseAddress}stream?size={size}\",\"timeoutSeconds\":120}}", Encoding.UTF8, "application/json");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    using var warm = await client.PostAsync("/api/invoke", Request());
                    if (warm.IsSuccessStatusCode) { await warm.Content.ReadAsByteArrayAsync(); break; }
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline) { }
                await Task.Delay(50); // the host is starting: poll, bounded by the deadline
            }
            var baseline = Rss(process.Id);
            long peak = baseline;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
                while (await timer.WaitForNextTickAsync(sampling.Token).ConfigureAwait(false)) { peak = Math.Max(peak, Rss(process.Id)); }
            });
            long ok = 0, busy = 0, other = 0;
            var until = DateTime.UtcNow + duration;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
            {
                while (DateTime.UtcNow < until)
                {
                    using var response = await client.PostAsync("/api/invoke", Request());
                    await response.Content.CopyToAsync(Stream.Null);
                    if (response.IsSuccessStatusCode) { Interlocked.Increment(ref ok); }
                    else if ((int)response.StatusCode == 503) { Interlocked.Increment(ref busy); }
                    else { Interlocked.Increment(ref other); }
                }
            }));
            var loadSeconds = watch.Elapsed.TotalSeconds;
            var endOfLoad = Rss(process.Id);
            await Task.Delay(LargeBufferPool.IdleTrim * 2); // idle, as after a burst: the pool gives its arrays back after IdleTrim
            var after = Rss(process.Id);
            sampling.Cancel();
            try { await sampler; } catch (OperationCanceledException) { }
            const double MiB = 1024 * 1024;
            var budget = 512 * MiB;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {callers} callers × {size / MiB:0.0} MiB envelopes, {loadSeconds:0} s | {ok} ok, {busy} busy (503), {other} other | " +
                $"RSS before {baseline / MiB:0} MiB | peak {peak / MiB:0} MiB (budget + baseline = {(budget + baseline) / MiB:0} MiB) | " +
                $"end of load {endOfLoad / MiB:0} MiB | {(LargeBufferPool.IdleTrim * 2).TotalSeconds:0} s later {after / MiB:0} MiB |"));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static long Rss(int pid) => StandaloneHostProcess.Rss(pid);
}
