using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ServiceNodeInvoker.Telemetry;

/// <summary>
/// The invoker's activity source and meter. Tags carry profile, host, port, the URL without its query,
/// method, status, error code, TLS protocol and certificate thumbprint: never queries, headers or bodies.
/// </summary>
internal sealed class InvokerTelemetry : IDisposable
{
    public const string Name = "ServiceNodeInvoker";

    private readonly Meter _meter;
    private readonly Counter<long> _invocations;
    private readonly Histogram<double> _backendDuration;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _handshakeFailures;
    private readonly Counter<long> _tokenRequests;
    private readonly Counter<long> _watchChecks;
    private readonly Counter<long> _reloads;
    private volatile Measurement<double>[] _watchDaysLeft = [];

    public InvokerTelemetry(IMeterFactory meters)
    {
        _meter = meters.Create(Name);
        _invocations = _meter.CreateCounter<long>("invoker.invocations", "{invocation}",
            "Invocations by profile and outcome (ok, or the invoker error code).");
        _backendDuration = _meter.CreateHistogram<double>("invoker.backend.duration", "ms",
            "Time from sending to the backend until its response was complete.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] });
        _refreshes = _meter.CreateCounter<long>("invoker.certificate.refreshes", "{refresh}",
            "Certificate loads and refreshes by profile and result (success, failure).");
        _handshakeFailures = _meter.CreateCounter<long>("invoker.tls.handshake_failures", "{failure}",
            "Failed TLS handshakes by profile and reason (server-certificate, client-certificate-refused, handshake).");
        _tokenRequests = _meter.CreateCounter<long>("invoker.token.requests", "{request}",
            "Token endpoint requests by profile and result (success, or the failure's cause).");
        // Observable, over the last run's values: a synchronous gauge keeps every attribute set it ever recorded, and a
        // cumulative reader (OTLP's default) exports each one at every collection for the life of the process — a replaced
        // certificate's thumbprint, or the same certificate's earlier status, would be reported forever with its old days left.
        _meter.CreateObservableGauge(WatchDaysLeft, () => _watchDaysLeft, "d",
            "Expiry watch: days until each certificate the app relies on expires (negative once expired), by profile, role, subject, thumbprint and status, as the last run found them.");
        _watchChecks = _meter.CreateCounter<long>(WatchChecks, "{certificate}",
            "Expiry watch: certificates checked by profile, role and status (ok, warning, error, expired, failing).");
        _reloads = _meter.CreateCounter<long>("invoker.configuration.reloads", "{reload}",
            "Configuration reloads by result (applied, refused, unchanged) and trigger (file-change, request).");
    }

    /// <summary>The expiry watch's days-left gauge: one value per certificate the last run found, read at each collection.</summary>
    public const string WatchDaysLeft = "invoker.certificate.watch.days_left";

    /// <summary>The expiry watch's counter: one per certificate (or failing source) and run, by status.</summary>
    public const string WatchChecks = "invoker.certificate.watch.checks";

    /// <summary>
    /// The tags of one certificate the expiry watch looked at. <paramref name="subject"/> and <paramref name="thumbprint"/> name it
    /// (a secret: its name and version), never secret material.
    /// </summary>
    public static TagList ExpiryTags(string profile, string role, string subject, string thumbprint, string status) => new()
    {
        { "invoker.profile", profile },
        { "invoker.certificate.role", role },
        { "invoker.certificate.subject", subject },
        { "invoker.certificate.thumbprint", thumbprint },
        { "invoker.certificate.status", status },
    };

    /// <summary>Certificates (or failing sources) the expiry watch checked: the counter, by status (more than one: reported together).</summary>
    public void RecordExpiryCheck(in TagList tags, int count = 1) => _watchChecks.Add(count, tags);

    /// <summary>
    /// The days left of every certificate one run found (a failing source with nothing held has none): from now on the gauge
    /// reports exactly these, until the next run replaces them.
    /// </summary>
    public void ReplaceExpiryDaysLeft(IEnumerable<(TagList Tags, double DaysLeft)> run) =>
        _watchDaysLeft = run.Select(r => new Measurement<double>(Math.Round(r.DaysLeft, 2), r.Tags)).ToArray();

    public ActivitySource Source { get; } = new(Name);

    /// <summary>The start-up milestones no runtime event carries (an EventSource: off unless someone listens).</summary>
    public StartupEvents Startup => StartupEvents.Instance;

    /// <summary>The invocation's span: a Client span (an outgoing call), so Application Insights shows each backend as a dependency.</summary>
    public InvocationRecord Begin() => new(this, Source.StartActivity("invoke", ActivityKind.Client));

    internal void RecordInvocation(string profile, string outcome) =>
        _invocations.Add(1, new KeyValuePair<string, object?>("invoker.profile", profile), new("invoker.outcome", outcome));

    internal void RecordBackendDuration(string profile, int status, double milliseconds) =>
        _backendDuration.Record(milliseconds, new KeyValuePair<string, object?>("invoker.profile", profile), new("http.response.status_code", status));

    internal void RecordHandshakeFailure(string profile, string reason) =>
        _handshakeFailures.Add(1, new KeyValuePair<string, object?>("invoker.profile", profile), new("invoker.tls.failure_reason", reason));

    public void RecordRefresh(string profile, bool success) =>
        _refreshes.Add(1, new KeyValuePair<string, object?>("invoker.profile", profile), new("invoker.refresh.result", success ? "success" : "failure"));

    /// <summary>One token request to a profile's token endpoint: "success" or the failure's cause.</summary>
    public void RecordTokenRequest(string profile, string result) =>
        _tokenRequests.Add(1, new KeyValuePair<string, object?>("invoker.profile", profile), new("invoker.token.result", result));

    /// <summary>One configuration reload: what came of it, and what started it.</summary>
    public void RecordReload(string result, string trigger) =>
        _reloads.Add(1, new KeyValuePair<string, object?>("invoker.reload.result", result), new("invoker.reload.trigger", trigger));

    /// <summary>Days until each profile's client certificate expires, read when metrics are collected.</summary>
    public void ObserveDaysToExpiry(Func<IEnumerable<(string Profile, double Days)>> read) =>
        _meter.CreateObservableGauge("invoker.certificate.days_to_expiry",
            () => read().Select(r => new Measurement<double>(r.Days, new KeyValuePair<string, object?>("invoker.profile", r.Profile))),
            "d", "Days until the profile's client certificate expires; alert on it.");

    public void Dispose()
    {
        Source.Dispose();
        _meter.Dispose();
    }
}
