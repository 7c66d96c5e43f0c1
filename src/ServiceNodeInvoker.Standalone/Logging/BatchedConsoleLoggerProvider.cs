using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace ServiceNodeInvoker.Standalone.Logging;

/// <summary>
/// The console log, written in batches. Lines are formatted by the configured console formatter
/// (the simple one-line format: same text, scopes and trace ids as the stock console logger) on the
/// thread that logs, then collected and written to standard output every <see cref="Interval"/> in
/// one write. The stock console logger hands every line to its own writer thread (a wake-up per line)
/// and flushes each one with its own <c>write(2)</c>; under load that was most of what the one
/// line per invocation cost (docs/performance.md). Every line still arrives, in order, at most
/// <see cref="Interval"/> late; at shutdown and on an unhandled exception the rest is written at once.
/// When more than <see cref="MaxPending"/> characters wait, the logging thread writes them itself.
/// </summary>
[ProviderAlias("Console")]
public sealed class BatchedConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    public const int MaxPending = 1 << 20;

    [ThreadStatic] private static StringWriter? t_line;

    private readonly ConsoleFormatter _formatter;
    private readonly ConcurrentDictionary<string, BatchedLogger> _loggers = new();
    private readonly Lock _gate = new();
    private readonly Lock _writing = new();
    private readonly Stream _output;
    private readonly Timer _timer;
    private StringBuilder _pending = new();
    private StringBuilder _spare = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();
    private bool _disposed;

    public BatchedConsoleLoggerProvider(IEnumerable<ConsoleFormatter> formatters, IOptions<ConsoleLoggerOptions> options)
        : this(formatters, options, Console.OpenStandardOutput())
    {
    }

    /// <param name="output">Where the batches go (standard output in the host).</param>
    public BatchedConsoleLoggerProvider(IEnumerable<ConsoleFormatter> formatters, IOptions<ConsoleLoggerOptions> options, Stream output)
    {
        var name = options.Value.FormatterName ?? ConsoleFormatterNames.Simple;
        _formatter = formatters.FirstOrDefault(f => f.Name == name) ?? formatters.First(f => f.Name == ConsoleFormatterNames.Simple);
        _output = output;
        _timer = new Timer(_ => Flush(), null, Interval, Interval);
        AppDomain.CurrentDomain.ProcessExit += OnExit;
        AppDomain.CurrentDomain.UnhandledException += OnExit;
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, name => new BatchedLogger(this, name));

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    private void Append(StringBuilder line)
    {
        bool full;
        lock (_gate)
        {
            _pending.Append(line);
            full = _pending.Length > MaxPending;
        }
        if (full)
        {
            Flush();
        }
    }

    /// <summary>Writes what has collected (one write, then a flush of the stream).</summary>
    public void Flush()
    {
        lock (_writing) // one writer at a time, in the order the batches were taken
        {
            StringBuilder batch;
            lock (_gate)
            {
                if (_pending.Length == 0 || _disposed)
                {
                    return;
                }
                batch = _pending;
                _pending = _spare;
                _spare = batch;
            }
            try
            {
                var bytes = Encoding.UTF8.GetBytes(batch.ToString());
                _output.Write(bytes);
                _output.Flush();
            }
            catch (IOException)
            {
                // stdout closed (a pipe whose reader went away): nothing more can be written there
            }
            finally
            {
                batch.Clear();
            }
        }
    }

    private void OnExit(object? sender, EventArgs e) => Flush();

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
        lock (_gate)
        {
            _disposed = true;
        }
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        AppDomain.CurrentDomain.UnhandledException -= OnExit;
    }

    private sealed class BatchedLogger(BatchedConsoleLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var line = t_line ??= new StringWriter(new StringBuilder(256));
            provider._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), provider._scopes, line);
            var text = line.GetStringBuilder();
            if (text.Length > 0)
            {
                provider.Append(text);
            }
            text.Clear();
            if (text.Capacity > 16 * 1024)
            {
                t_line = null; // an unusually long line: don't keep its buffer on this thread
            }
        }
    }
}
