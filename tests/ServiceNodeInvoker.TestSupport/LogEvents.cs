using System.Collections.Concurrent;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>One log event as a log exporter sees it: its id and name, level, category and the named values of its template.</summary>
public sealed record LogEvent(int Id, string? Name, LogLevel Level, string Category, IReadOnlyDictionary<string, string?> Values, string Message)
{
    public string? this[string key] => Values.GetValueOrDefault(key);
}

/// <summary>Captures every log event a host writes with its structure (event id and template values), not just its text.</summary>
public sealed class LogEvents : ILoggerProvider
{
    public ConcurrentQueue<LogEvent> All { get; } = new();

    public IEnumerable<LogEvent> WithId(int id) => All.Where(e => e.Id == id);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose() { }

    private sealed class Logger(string category, LogEvents sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = new Dictionary<string, string?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    values[key] = value is IFormattable f ? f.ToString(null, System.Globalization.CultureInfo.InvariantCulture) : value?.ToString();
                }
            }
            sink.All.Enqueue(new LogEvent(eventId.Id, eventId.Name, logLevel, category, values, formatter(state, exception)));
        }
    }
}
