namespace ServiceNodeInvoker.Tests.Telemetry;

/// <summary>
/// Tests that read the invoker's metrics through an OpenTelemetry exporter run alone, never beside other tests' hosts.
/// The SDK's MeterProvider subscribes to meters by name, process-wide: every host in this process has a meter named
/// "ServiceNodeInvoker", and instruments of the same name share one metric stream in each provider. When another test's
/// host is disposed, its instruments complete and the SDK retires that shared stream, so this test's own measurements stop
/// being exported (a watch's second run never reaches the exporter). One host per process, as in production, is what
/// these tests need; tests that count measurements with their own MeterListener filtered by meter instance don't.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExportedMetricsCollection
{
    public const string Name = "Exported metrics (one host's meters at a time)";
}
