using System.Collections.Concurrent;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>Captures every log line (message and exception text) a host writes.</summary>
public sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>The same log lines with their event ids.</summary>
    public ConcurrentQueue<Entry> Entries { get; } = new();

    public sealed record Entry(LogLevel Level, EventId EventId, string Category, string Message);

    public string All => string.Join('\n', Lines);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose() { }

    private sealed class Logger(string category, LogSink sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            sink.Entries.Enqueue(new Entry(logLevel, eventId, category, message));
            sink.Lines.Enqueue($"{logLevel} {category}: {message} {exception}");
        }
    }
}
