using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;

namespace ServiceNodeInvoker.TestSupport.Otlp;

/// <summary>One metric data point as an app exported it: the instrument's name and kind, the point's attributes and value.</summary>
public sealed record ExportedPoint(string Name, string Kind, IReadOnlyDictionary<string, string> Attributes, double? Value);

/// <summary>One log record as an app exported it: its event id and name, severity, attributes (the template's values) and body.</summary>
public sealed record ExportedLog(int? EventId, string? EventName, string Severity, IReadOnlyDictionary<string, string> Attributes, string Body)
{
    public string? this[string key] => Attributes.GetValueOrDefault(key);
}

/// <summary>One span as an app exported it: its name, kind and attributes.</summary>
public sealed record ExportedSpan(string Name, string Kind, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/gRPC receiver on loopback (HTTP/2 without TLS): what an app in another process exports when
/// OTEL_EXPORTER_OTLP_ENDPOINT names it — the real exporter, the real protocol. Point an app at it with <see cref="Environment"/>.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private WebApplication _app = null!;

    public ConcurrentQueue<ExportedPoint> Points { get; } = new();
    public ConcurrentQueue<ExportedLog> Logs { get; } = new();
    public ConcurrentQueue<ExportedSpan> Spans { get; } = new();

    public Uri Endpoint => new(_app.Urls.First());

    /// <summary>The settings that make an app export here over gRPC, metrics within a second.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
        ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        // The OTLP exporter sends a log's EventId only when asked (the Azure Monitor exporter always puts it in customDimensions).
        ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES"] = "true",
    };

    public IEnumerable<ExportedLog> WithEventId(int id) => Logs.Where(l => l.EventId == id);

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 64 * 1024 * 1024);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var receiver = new OtlpReceiver();
        builder.Services.AddSingleton(receiver);
        var app = receiver._app = builder.Build();
        app.MapGrpcService<MetricsReceiver>();
        app.MapGrpcService<LogsReceiver>();
        app.MapGrpcService<TracesReceiver>();
        await app.StartAsync();
        return receiver;
    }

    internal static Dictionary<string, string> Attributes(IEnumerable<KeyValue> attributes) =>
        attributes.GroupBy(a => a.Key).ToDictionary(g => g.Key, g => Text(g.Last().Value));

    internal static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        null => "",
        _ => value.ToString(),
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class MetricsReceiver(IServiceProvider services) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            var receiver = services.GetRequiredService<OtlpReceiver>();
            foreach (var metric in request.ResourceMetrics.SelectMany(r => r.ScopeMetrics).SelectMany(s => s.Metrics))
            {
                var kind = metric.DataCase.ToString();
                switch (metric.DataCase)
                {
                    case OpenTelemetry.Proto.Metrics.V1.Metric.DataOneofCase.Gauge:
                        foreach (var p in metric.Gauge.DataPoints) { receiver.Points.Enqueue(new(metric.Name, kind, Attributes(p.Attributes), Number(p))); }
                        break;
                    case OpenTelemetry.Proto.Metrics.V1.Metric.DataOneofCase.Sum:
                        foreach (var p in metric.Sum.DataPoints) { receiver.Points.Enqueue(new(metric.Name, kind, Attributes(p.Attributes), Number(p))); }
                        break;
                    case OpenTelemetry.Proto.Metrics.V1.Metric.DataOneofCase.Histogram:
                        foreach (var p in metric.Histogram.DataPoints) { receiver.Points.Enqueue(new(metric.Name, kind, Attributes(p.Attributes), p.Sum)); }
                        break;
                    default:
                        receiver.Points.Enqueue(new(metric.Name, kind, new Dictionary<string, string>(), null));
                        break;
                }
            }
            return Task.FromResult(new ExportMetricsServiceResponse());
        }

        private static double Number(OpenTelemetry.Proto.Metrics.V1.NumberDataPoint p) =>
            p.ValueCase == OpenTelemetry.Proto.Metrics.V1.NumberDataPoint.ValueOneofCase.AsInt ? p.AsInt : p.AsDouble;
    }

    private sealed class LogsReceiver(IServiceProvider services) : LogsService.LogsServiceBase
    {
        public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
        {
            var receiver = services.GetRequiredService<OtlpReceiver>();
            foreach (var record in request.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords))
            {
                var attributes = Attributes(record.Attributes);
                // The .NET exporter puts the EventId in attributes (logrecord.event.id), the name in event_name (older: an attribute).
                var id = attributes.TryGetValue("logrecord.event.id", out var raw) && int.TryParse(raw, out var parsed) ? parsed : (int?)null;
                var name = !string.IsNullOrEmpty(record.EventName) ? record.EventName : attributes.GetValueOrDefault("logrecord.event.name");
                receiver.Logs.Enqueue(new(id, name, record.SeverityText, attributes, Text(record.Body)));
            }
            return Task.FromResult(new ExportLogsServiceResponse());
        }
    }

    private sealed class TracesReceiver(IServiceProvider services) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            var receiver = services.GetRequiredService<OtlpReceiver>();
            foreach (var span in request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
            {
                receiver.Spans.Enqueue(new(span.Name, span.Kind.ToString(), Attributes(span.Attributes)));
            }
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }
}
