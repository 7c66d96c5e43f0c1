using ServiceNodeInvoker.Primitives;
using Azure.Core;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ServiceNodeInvoker.Telemetry;

/// <summary>
/// OpenTelemetry for the invoker's source and meter. Exporters follow the environment:
/// Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set (Entra-authenticated with the
/// app's credential: infra turns local auth off), OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, the
/// console when asked (the demo).
/// </summary>
internal static class TelemetryRegistration
{
    public const string ServiceName = "service-node-invoker";

    /// <param name="host">
    /// Functions: the host records each request, and the app adds Worker.OpenTelemetry's
    /// UseFunctionsWorkerDefaults (cloud role = the site, like the host's); so no ASP.NET Core request
    /// instrumentation and no service name of our own here. Standalone: both, as its own service.
    /// </param>
    public static void AddInvokerTelemetry(this IServiceCollection services, IConfiguration configuration, bool console,
        InvokerHostKind host = InvokerHostKind.Standalone)
    {
        var standalone = host == InvokerHostKind.Standalone;
        var appInsights = configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"];
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // The exporters take the app's one credential (local auth is off in infra) once the container is built.
        services.AddOptions<AzureMonitorExporterOptions>().Configure<TokenCredential>((o, credential) =>
        {
            o.ConnectionString = appInsights;
            o.Credential = credential;
        });
        static void AzureMonitor(AzureMonitorExporterOptions o)
        {
        }

        var builder = services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                if (standalone)
                {
                    r.AddService(ServiceName);
                }
            })
            .WithTracing(tracing =>
            {
                if (standalone)
                {
                    // The incoming request's span is the parent of "invoke" (and carries the bot's own trace context).
                    tracing.AddAspNetCoreInstrumentation(o => o.Filter = context => context.Request.Path.StartsWithSegments("/api"));
                }
                tracing.AddSource(InvokerTelemetry.Name);
                if (!string.IsNullOrEmpty(appInsights)) { tracing.AddAzureMonitorTraceExporter(AzureMonitor); }
                if (otlp) { tracing.AddOtlpExporter(); }
                if (console) { tracing.AddConsoleExporter(); }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(InvokerTelemetry.Name);
                if (!string.IsNullOrEmpty(appInsights)) { metrics.AddAzureMonitorMetricExporter(AzureMonitor); }
                if (otlp) { metrics.AddOtlpExporter(); }
            });
        if (!string.IsNullOrEmpty(appInsights) || otlp)
        {
            builder.WithLogging(logging =>
            {
                if (!string.IsNullOrEmpty(appInsights)) { logging.AddAzureMonitorLogExporter(AzureMonitor); }
                if (otlp) { logging.AddOtlpExporter(); }
            });
        }
    }
}
