using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;

namespace ServiceNodeInvoker.Telemetry;

/// <summary>
/// Pushes the metrics and logs recorded so far to the exporters now instead of at the next export interval (a minute for
/// metrics). For work that runs on an instance the platform may stop right after: the expiry watch on a Functions app that
/// woke up only for its timer.
/// </summary>
internal sealed class TelemetryFlush(IServiceProvider services)
{
    public void Flush(TimeSpan timeout)
    {
        var milliseconds = (int)timeout.TotalMilliseconds;
        services.GetService<MeterProvider>()?.ForceFlush(milliseconds);
        services.GetService<LoggerProvider>()?.ForceFlush(milliseconds);
    }
}
