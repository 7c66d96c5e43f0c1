using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ServiceNodeInvoker.Tests.Telemetry;

/// <summary>Traces and metrics through an in-memory exporter: right tags, W3C context to the backend, nothing secret.</summary>
[Collection(ServiceNodeInvoker.Tests.Telemetry.ExportedMetricsCollection.Name)]
public sealed class TelemetryTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private const string QuerySecret = "query-secret-123";
    private const string BodySecret = "body-secret-456";

    private sealed class Exported
    {
        public List<Activity> Activities { get; } = [];
        public List<Metric> Metrics { get; } = [];

        public void Configure(WebApplicationBuilder builder)
        {
            builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Activities));
            builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(Metrics));
        }

        /// <summary>
        /// This test's invocation: activity listeners are process-wide, so other tests' hosts (running in
        /// parallel) export here too; the backend's port tells ours apart.
        /// </summary>
        public Activity Invocation(int backendPort) =>
            Activities.ToArray().First(a => a.OperationName == "invoke" && Equals(a.GetTagItem("server.port"), backendPort));

        public bool HasInvocation(int backendPort, int count = 1) =>
            Activities.ToArray().Count(a => a.OperationName == "invoke" && Equals(a.GetTagItem("server.port"), backendPort)) >= count;

        public IEnumerable<(MetricPoint Point, Dictionary<string, object?> Tags)> Points(string name)
        {
            foreach (var metric in Metrics.Where(m => m.Name == name))
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    var tags = new Dictionary<string, object?>();
                    foreach (var tag in point.Tags) { tags[tag.Key] = tag.Value; }
                    yield return (point, tags);
                }
            }
        }
    }

    [Fact]
    public async Task A_successful_invocation_is_traced_with_its_tags_and_its_trace_reaches_the_backend()
    {
        var routes = new BackendRoutes();
        await using var backend = await Pki.StartBackendAsync(routes.Map);
        using var files = new TempFiles();
        var exported = new Exported();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings, exported.Configure);

        var reply = await host.InvokeJsonAsync(new
        {
            method = "GET", url = $"{backend.BaseAddress}headers?token={QuerySecret}",
            headers = new Dictionary<string, string> { ["X-Note"] = BodySecret },
        });
        await Poll.UntilAsync(() => exported.HasInvocation(backend.Port), "the exported activity");

        var activity = exported.Invocation(backend.Port);
        Assert.Equal(ActivityKind.Client, activity.Kind); // a dependency on the application map
        Assert.Equal($"{backend.BaseAddress}headers", activity.GetTagItem("url.full"));
        Assert.Equal("localhost", activity.GetTagItem("server.address"));
        Assert.Equal(backend.Port, activity.GetTagItem("server.port"));
        Assert.Equal("GET", activity.GetTagItem("http.request.method"));
        Assert.Equal(200, activity.GetTagItem("http.response.status_code"));
        Assert.Equal("Tls13", activity.GetTagItem("tls.protocol.version"));
        Assert.Equal(reply.GetProperty("tls").GetProperty("clientCertificate").GetProperty("thumbprintSha256").GetString(),
            activity.GetTagItem("tls.client.certificate.sha256"));
        Assert.Equal("ok", activity.GetTagItem("invoker.outcome"));
        AssertNoSecrets(activity);

        // W3C trace context: the backend received a traceparent in our trace.
        var traceparent = reply.GetProperty("body").GetProperty("traceparent")[0].GetString()!;
        Assert.Equal(activity.TraceId.ToHexString(), traceparent.Split('-')[1]);

        // The same through ?code=: no exported span (ours or the request's) may carry the key.
        using var byQuery = new HttpClient { BaseAddress = host.Client.BaseAddress };
        using (var viaQuery = await byQuery.PostAsync($"/api/invoke?code={InvokerHost.ApiKey}",
            new StringContent($$"""{"method":"GET","url":"{{backend.BaseAddress}}json"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(200, (int)viaQuery.StatusCode);
        }
        await Poll.UntilAsync(() => exported.HasInvocation(backend.Port, 2), "the exported activity");
        foreach (var any in exported.Activities.ToArray())
        {
            foreach (var (_, value) in any.TagObjects)
            {
                Assert.DoesNotContain(InvokerHost.ApiKey, value?.ToString() ?? "");
                Assert.DoesNotContain(QuerySecret, value?.ToString() ?? "");
            }
        }

        Flush(host);
        Assert.Contains(exported.Points("invoker.invocations"), p => Equals(p.Tags["invoker.profile"], "payments") && Equals(p.Tags["invoker.outcome"], "ok"));
        Assert.Contains(exported.Points("invoker.backend.duration"), p => Equals(p.Tags["http.response.status_code"], 200));
        Assert.Contains(exported.Points("invoker.certificate.refreshes"), p => Equals(p.Tags["invoker.refresh.result"], "success"));
        // Metric listeners are process-wide too: other tests' hosts may report a "payments" gauge as well.
        Assert.Contains(exported.Points("invoker.certificate.days_to_expiry"),
            p => Equals(p.Tags["invoker.profile"], "payments") && p.Point.GetGaugeLastValueDouble() is > 300 and < 5 * 366);
    }

    [Fact]
    public async Task A_failed_invocation_is_traced_with_its_error_code_and_counted_by_reason()
    {
        await using var backend = await Pki.StartBackendAsync(server: Pki.UntrustedServer);
        using var files = new TempFiles();
        var exported = new Exported();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings, exported.Configure);

        using var response = await host.InvokeAsync(new { method = "POST", url = $"{backend.BaseAddress}echo?k={QuerySecret}", body = BodySecret });
        await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        await Poll.UntilAsync(() => exported.HasInvocation(backend.Port), "the exported activity");

        var activity = exported.Invocation(backend.Port);
        Assert.Equal(ErrorCodes.TlsHandshakeFailed, activity.GetTagItem("invoker.error.code"));
        Assert.Equal(ActivityStatusCode.Error, activity.Status);
        AssertNoSecrets(activity);
        Flush(host);
        Assert.Contains(exported.Points("invoker.invocations"), p => Equals(p.Tags["invoker.outcome"], ErrorCodes.TlsHandshakeFailed));
        Assert.Contains(exported.Points("invoker.tls.handshake_failures"), p => Equals(p.Tags["invoker.tls.failure_reason"], "server-certificate"));
    }

    [Fact]
    public async Task A_forwarded_call_is_traced_with_the_same_tags_and_its_trace_reaches_the_backend()
    {
        var routes = new BackendRoutes();
        await using var backend = await Pki.StartBackendAsync(routes.Map);
        using var files = new TempFiles();
        var exported = new Exported();
        var settings = ProfileSettings.Standard(files, backend.Port).Set("payments", "BaseUrl", backend.BaseAddress.ToString()).Settings;
        await using var host = await InvokerHost.StartAsync(settings, exported.Configure);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/forward/payments/headers?token={QuerySecret}");
        request.Headers.Add("X-Note", BodySecret);
        using var response = await host.Client.SendAsync(request);
        var seen = await InvokerHost.ReadAsync(response, 200);
        await Poll.UntilAsync(() => exported.HasInvocation(backend.Port), "the exported activity");

        var activity = exported.Invocation(backend.Port);
        Assert.Equal(ActivityKind.Client, activity.Kind);
        Assert.Equal($"{backend.BaseAddress}headers", activity.GetTagItem("url.full"));
        Assert.Equal(backend.Port, activity.GetTagItem("server.port"));
        Assert.Equal("GET", activity.GetTagItem("http.request.method"));
        Assert.Equal(200, activity.GetTagItem("http.response.status_code"));
        Assert.Equal("payments", activity.GetTagItem("invoker.profile"));
        Assert.Equal("ok", activity.GetTagItem("invoker.outcome"));
        AssertNoSecrets(activity);
        // The backend's request continues the invocation's trace (its parent: the HTTP client's span under "invoke").
        Assert.StartsWith($"00-{activity.TraceId}-", seen.GetProperty("traceparent")[0].GetString());
        Assert.DoesNotContain(QuerySecret, host.Logs.All);
        Assert.DoesNotContain(BodySecret, host.Logs.All);
    }

    private static void AssertNoSecrets(Activity activity)
    {
        foreach (var (key, value) in activity.TagObjects)
        {
            var text = value?.ToString() ?? "";
            Assert.DoesNotContain(QuerySecret, text);
            Assert.DoesNotContain(BodySecret, text);
            Assert.DoesNotContain("?", text.Replace("(none)", ""));
            if (key == "url.full")
            {
                Assert.DoesNotContain("?", text); // the URL without its query
            }
        }
        Assert.DoesNotContain(QuerySecret, activity.DisplayName);
    }

    private static void Flush(InvokerHost host) => Assert.True(host.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000));

}
