using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ServiceNodeInvoker.TestSupport.FunctionsHost;
using ServiceNodeInvoker.TestSupport.Otlp;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>
/// The dashboard and the alerts read what the app really emits: both hosts run the same profiles (a call that succeeds, one
/// refused, one whose token endpoint is down, certificates in each expiry state, a failing source) with their telemetry
/// captured (in memory for the standalone host; over OTLP for the Functions worker, its own process), and every metric name,
/// dimension, span attribute, log event id and log value the workbook's and the alert rules' queries name must have been
/// emitted by each host; every status, cause and outcome the app emits must have its row in the workbook.
/// </summary>
[Collection(ServiceNodeInvoker.Tests.Telemetry.ExportedMetricsCollection.Name)]
public sealed partial class WorkbookTelemetryTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>What one host emitted, as Application Insights stores it: customMetrics, dependencies (Client spans), traces.</summary>
    private sealed class Emitted
    {
        public Dictionary<string, HashSet<string>> MetricTags { get; } = [];
        public Dictionary<string, HashSet<string>> TagValues { get; } = [];
        public HashSet<string> SpanTags { get; } = [];
        /// <summary>Each log event id emitted, with the names of the values its events carried.</summary>
        public Dictionary<int, HashSet<string>> Events { get; } = [];

        public void Log(int id, IEnumerable<string> keys) =>
            (Events.TryGetValue(id, out var known) ? known : Events[id] = []).UnionWith(keys);

        public void Metric(string name, IEnumerable<KeyValuePair<string, string>> tags)
        {
            var keys = MetricTags.TryGetValue(name, out var known) ? known : MetricTags[name] = [];
            foreach (var (key, value) in tags)
            {
                keys.Add(key);
                (TagValues.TryGetValue(key, out var values) ? values : TagValues[key] = []).Add(value);
            }
        }

        public void Span(IEnumerable<KeyValuePair<string, string>> tags)
        {
            foreach (var (key, value) in tags)
            {
                SpanTags.Add(key);
                (TagValues.TryGetValue(key, out var values) ? values : TagValues[key] = []).Add(value);
            }
        }
    }

    private static Dictionary<string, string?> Settings(TempFiles files, int backendPort, int untrustedPort)
    {
        var now = DateTimeOffset.UtcNow;
        var settings = ProfileSettings.Standard(files, backendPort, name: "wb-calls").Settings;
        foreach (var (key, value) in ProfileSettings.Standard(files, 7, name: "wb-expiring", client: Pki.Intermediate.IssueClient("wb-expiring", notAfter: now.AddDays(20))).Settings)
        {
            settings[key] = value;
        }
        foreach (var (key, value) in ProfileSettings.Standard(files, untrustedPort, name: "wb-untrusted").Settings)
        {
            settings[key] = value;
        }
        settings["Invoker:Profiles:wb-token:Hosts:0"] = $"127.0.0.1:{backendPort}";
        settings["Invoker:Profiles:wb-token:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:wb-token:ClientCertificate:Path"] = settings["Invoker:Profiles:wb-calls:ClientCertificate:Path"];
        settings["Invoker:Profiles:wb-token:ClientCertificate:Password"] = ProfileSettings.Password;
        settings["Invoker:Profiles:wb-token:Token:Endpoint"] = "https://localhost:1/token"; // nothing listens: the token request fails
        settings["Invoker:Profiles:wb-token:Token:ClientId"] = "bot";
        settings["Invoker:Profiles:wb-token:Token:ClientAuthentication"] = "TlsClientAuth";
        settings["Invoker:Profiles:wb-broken:Hosts:0"] = "broken.example";
        settings["Invoker:Profiles:wb-broken:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:wb-broken:ClientCertificate:Path"] = Path.Combine(files.Directory, "wb-missing.pfx");
        settings["Invoker:AllowLoopback"] = "true";
        return settings;
    }

    /// <summary>The calls both hosts get: one whose backend's certificate is refused, one answered, one refused before the backend, one without a token.</summary>
    private static object[] Calls(MutualTlsBackend backend, MutualTlsBackend untrusted) =>
    [
        new { method = "GET", url = $"{untrusted.BaseAddress}echo" },
        new { method = "GET", url = $"{backend.BaseAddress}echo" },
        new { method = "GET", url = "https://nobody.example/" },
        new { method = "GET", url = $"https://127.0.0.1:{backend.Port}/echo" },
    ];

    private static async Task<Emitted> StandaloneAsync(MutualTlsBackend backend, MutualTlsBackend untrusted, TempFiles files)
    {
        var activities = new List<Activity>();
        var metrics = new List<Metric>();
        var logs = new LogEvents();
        await using var host = await InvokerHost.StartAsync(Settings(files, backend.Port, untrusted.Port), b =>
        {
            b.Logging.AddProvider(logs);
            b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(activities));
            b.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics));
        });
        await Poll.UntilAsync(() => logs.WithId(1012).Any(), "the standalone host's expiry watch");
        foreach (var call in Calls(backend, untrusted))
        {
            using var response = await host.InvokeAsync(call);
        }
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        var emitted = new Emitted();
        lock (metrics)
        {
            foreach (var metric in metrics.Where(m => m.MeterName == "ServiceNodeInvoker"))
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    var tags = new List<KeyValuePair<string, string>>();
                    foreach (var tag in point.Tags) { tags.Add(new(tag.Key, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "")); }
                    emitted.Metric(metric.Name, tags);
                }
            }
        }
        // Activity listeners are process-wide: only this host's invocations (its profiles' names).
        foreach (var activity in activities.ToArray().Where(a => a.OperationName == "invoke" && a.Kind == ActivityKind.Client))
        {
            emitted.Span(activity.TagObjects.Select(t => new KeyValuePair<string, string>(t.Key, Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "")));
        }
        foreach (var log in logs.All)
        {
            emitted.Log(log.Id, log.Values.Keys);
        }
        return emitted;
    }

    private static async Task<Emitted> FunctionsAsync(MutualTlsBackend backend, MutualTlsBackend untrusted, TempFiles files)
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        var settings = Settings(files, backend.Port, untrusted.Port).Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        foreach (var (key, value) in otlp.Environment)
        {
            settings[key] = value;
        }
        await using var host = await WorkerHost.StartAsync(settings);
        await host.StartupTimerRuns;
        foreach (var call in Calls(backend, untrusted))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = JsonContent.Create(call) };
            request.Headers.Add("x-functions-key", WorkerHost.FunctionKey);
            using var response = await host.SendAsync(request);
        }
        await host.InvokeTimerAsync("ExpiryWatch"); // its run ends with a flush: the calls' metrics go out with it
        await Poll.UntilAsync(() => otlp.WithEventId(1012).Count() >= 2 && otlp.Points.Any(p => p.Name == "invoker.token.requests")
            && otlp.Spans.Count(s => s.Name == "invoke") >= 4, $"the worker's telemetry over OTLP\n{host.Output}");
        var emitted = new Emitted();
        foreach (var point in otlp.Points)
        {
            emitted.Metric(point.Name, point.Attributes);
        }
        foreach (var span in otlp.Spans.Where(s => s.Name == "invoke"))
        {
            emitted.Span(span.Attributes);
        }
        foreach (var log in otlp.Logs.Where(l => l.EventId is not null))
        {
            emitted.Log(log.EventId!.Value, log.Attributes.Keys);
        }
        return emitted;
    }

    /// <summary>The workbook's queries and the alert rules' queries (from alerts.bicep), each with what it is called.</summary>
    private static List<(string Name, string Query)> Queries()
    {
        var workbook = JsonNode.Parse(File.ReadAllText(Path.Combine(Tools.InfraDirectory, "workbook", "dashboard.workbook.json")))!;
        var queries = new List<(string, string)>();
        foreach (var item in workbook["items"]!.AsArray())
        {
            if ((string?)item!["content"]?["query"] is { } query)
            {
                queries.Add(($"workbook: {item["name"]}", query));
            }
            foreach (var parameter in item["content"]?["parameters"]?.AsArray() ?? [])
            {
                if ((string?)parameter!["query"] is { } q)
                {
                    queries.Add(($"workbook parameter {parameter["name"]}", q));
                }
            }
        }
        // Every rule of alerts.bicep's failureQueries, each by its name: a rule whose query the pattern misses fails here, not silently.
        var bicep = File.ReadAllText(Path.Combine(Tools.InfraDirectory, "modules", "alerts.bicep"));
        var block = bicep[bicep.IndexOf("var failureQueries = [", StringComparison.Ordinal)..];
        block = block[..block.IndexOf("\n]", StringComparison.Ordinal)];
        var rules = RuleName().Matches(block).Select(m => m.Groups[1].Value).ToList();
        var alertQueries = AlertQuery().Matches(block).Select(m => m.Groups[1].Value).ToList();
        Assert.True(rules.Count > 0 && rules.Count == alertQueries.Count, $"alerts.bicep: {rules.Count} rules, {alertQueries.Count} queries read");
        queries.AddRange(rules.Zip(alertQueries, (rule, query) => ($"alert {rule}", query)));
        return queries;
    }

    /// <summary>
    /// Every name one host's telemetry lacks that a query uses. A query is read table by table (a join's inner query is its own
    /// part): a customMetrics part must name its metrics, and each dimension it reads must be carried by every metric it names
    /// (not merely by some metric); a traces part's values must be carried by the events it names; a dependencies part's by the
    /// invoke spans.
    /// </summary>
    private static List<string> Missing(Emitted emitted, string host, IEnumerable<(string Name, string Query)>? queries = null)
    {
        var problems = new List<string>();
        foreach (var (name, query) in queries ?? Queries())
        {
            var parts = TableStart().Matches(query).ToList();
            if (parts.Count == 0)
            {
                problems.Add($"{host}: {name} reads no table this check knows");
            }
            for (var i = 0; i < parts.Count; i++)
            {
                var table = parts[i].Groups[1].Value;
                var part = query[parts[i].Index..(i + 1 < parts.Count ? parts[i + 1].Index : query.Length)];
                var metrics = MetricName().Matches(part).SelectMany(m => Literal().Matches(m.Value)).Select(l => l.Groups[1].Value).ToList();
                var events = EventId().Matches(part).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
                foreach (var metric in metrics.Where(m => !emitted.MetricTags.ContainsKey(m)))
                {
                    problems.Add($"{host}: {name} reads metric '{metric}', which was not emitted");
                }
                foreach (var id in events.Where(e => !emitted.Events.ContainsKey(e)))
                {
                    problems.Add($"{host}: {name} reads log event {id}, which was not emitted");
                }
                if (table == "customMetrics" && metrics.Count == 0)
                {
                    problems.Add($"{host}: {name} reads customMetrics without naming a metric (its dimensions cannot be checked)");
                }
                if (table == "traces" && events.Count == 0 && Dimension().IsMatch(part))
                {
                    problems.Add($"{host}: {name} reads traces' values without naming an event id (they cannot be checked)");
                }
                foreach (Match dimension in Dimension().Matches(part))
                {
                    var key = dimension.Groups[1].Value;
                    var missingFrom = table switch
                    {
                        "customMetrics" => metrics.Where(m => !(emitted.MetricTags.TryGetValue(m, out var keys) && keys.Contains(key))).ToList(),
                        "dependencies" => emitted.SpanTags.Contains(key) ? [] : ["the invoke spans"],
                        "traces" => key == "EventId" ? [] // the Azure Monitor exporter's own property for LogRecord.EventId
                            : events.Where(e => !(emitted.Events.TryGetValue(e, out var keys) && keys.Contains(key))).Select(e => $"event {e}").ToList(),
                        _ => [$"the {table} table"],
                    };
                    if (missingFrom.Count > 0)
                    {
                        problems.Add($"{host}: {name} ({table}) reads customDimensions[\"{key}\"], which {string.Join(", ", missingFrom)} did not carry");
                    }
                }
            }
        }
        return problems;
    }

    [Fact]
    [Trait("Tier", "Fast")]
    public void The_check_ties_each_dimension_to_the_metric_or_event_its_query_reads()
    {
        var emitted = new Emitted();
        emitted.Metric("invoker.token.requests", [new("invoker.profile", "p"), new("invoker.token.result", "success")]);
        emitted.Metric("invoker.certificate.watch.checks", [new("invoker.profile", "p"), new("invoker.certificate.role", "client")]);
        emitted.Span([new("invoker.profile", "p"), new("invoker.outcome", "ok")]);
        emitted.Log(1011, ["Profile", "Reason"]);
        emitted.Log(1012, ["Checked"]);
        static (string, string) Q(string query) => ("q", query);

        Assert.Empty(Missing(emitted, "t", [
            Q("customMetrics | where name == \"invoker.certificate.watch.checks\" | extend r = tostring(customDimensions[\"invoker.certificate.role\"])"),
            Q("traces | where tostring(customDimensions[\"EventId\"]) == \"1011\" | extend r = tostring(customDimensions[\"Reason\"])"),
            Q("dependencies | extend o = tostring(customDimensions[\"invoker.outcome\"])"),
        ]));
        // Another metric's dimension: emitted, but not by the metric this query reads.
        Assert.Single(Missing(emitted, "t", [Q("customMetrics | where name == \"invoker.token.requests\" | extend r = tostring(customDimensions[\"invoker.certificate.role\"])")]));
        // A metric's dimension read from the spans, in a query that also joins a metric.
        Assert.Single(Missing(emitted, "t", [Q("dependencies | extend r = tostring(customDimensions[\"invoker.certificate.role\"])\n| join (customMetrics | where name == \"invoker.certificate.watch.checks\" | extend p = tostring(customDimensions[\"invoker.profile\"])) on p")]));
        // Another event's value.
        Assert.Single(Missing(emitted, "t", [Q("traces | where tostring(customDimensions[\"EventId\"]) == \"1012\" | extend r = tostring(customDimensions[\"Reason\"])")]));
        // An event read inside an aggregate (the watch-missing alert's maxif): one never emitted is caught there too.
        Assert.Empty(Missing(emitted, "t", [Q("traces | summarize lastRun = maxif(timestamp, tostring(customDimensions[\"EventId\"]) == \"1012\")")]));
        Assert.Single(Missing(emitted, "t", [Q("traces | summarize lastRun = maxif(timestamp, tostring(customDimensions[\"EventId\"]) == \"1021\")")]));
        // Nothing named to check against.
        Assert.Single(Missing(emitted, "t", [Q("customMetrics | extend p = tostring(customDimensions[\"invoker.profile\"])")]));
        Assert.Single(Missing(emitted, "t", [Q("traces | extend r = tostring(customDimensions[\"Reason\"])")]));
    }

    [FunctionsFact]
    public async Task Every_name_the_dashboard_and_the_alerts_query_is_emitted_by_both_hosts_and_every_emitted_value_has_its_row()
    {
        await using var backend = await Pki.StartBackendAsync();
        await using var untrusted = await Pki.StartBackendAsync(server: Pki.UntrustedServer);
        using var files = new TempFiles();
        var standalone = await StandaloneAsync(backend, untrusted, files);
        var functions = await FunctionsAsync(backend, untrusted, files);

        var problems = Missing(standalone, "standalone").Concat(Missing(functions, "functions")).ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));

        // The check can fail: a query naming a metric nobody emits is caught.
        Assert.Equal(2, Missing(standalone, "standalone", [("a typo", "customMetrics | where name == \"invoker.invocation\" | extend p = tostring(customDimensions[\"invoker.profle\"])")]).Count);

        var workbook = File.ReadAllText(Path.Combine(Tools.InfraDirectory, "workbook", "dashboard.workbook.json"));
        var text = workbook; // the queries' datatables as the file holds them: "status", "meaning" with JSON's \"
        foreach (var emitted in new[] { standalone, functions })
        {
            // Each expiry status has its meaning in the days-left panel; the run produced ok, warning and failing at least.
            var statuses = emitted.TagValues["invoker.certificate.status"];
            Assert.Superset(new HashSet<string> { "ok", "warning", "failing" }, statuses);
            foreach (var status in statuses)
            {
                Assert.Contains($"\\\"{status}\\\", \\\"", text);
            }
            // Each outcome is an error code (or ok), and the invocations panel groups by outcome without dropping any.
            Assert.Superset(new HashSet<string> { "ok", ErrorCodes.TargetNotAllowed, ErrorCodes.TokenUnavailable }, emitted.TagValues["invoker.outcome"]);
            Assert.Subset(typeof(ErrorCodes).GetFields().Select(f => (string)f.GetRawConstantValue()!).Append("ok").ToHashSet(), emitted.TagValues["invoker.outcome"]);
            // Each cause has its fix in the failures panel.
            foreach (var cause in emitted.TagValues.GetValueOrDefault("invoker.error.cause") ?? [])
            {
                Assert.Contains($"\\\"{cause}\\\", \\\"", text);
            }
        }
        var invocations = Queries().Single(q => q.Name.Contains("Invocations over time", StringComparison.Ordinal)).Query;
        Assert.Contains("by outcome", invocations);
        Assert.DoesNotMatch(@"where\s+outcome", invocations);
    }

    /// <summary>
    /// The Azure Monitor exporter sends one number per point of a counter (its sum over the export interval) or a gauge (its last
    /// value): customMetrics' <c>value</c>. Min, max and count it sends for histograms only, so a gauge read as <c>valueMin</c>
    /// may show nothing; every query reads <c>value</c>.
    /// </summary>
    [Fact]
    [Trait("Tier", "Fast")]
    public void Every_query_reads_the_one_value_the_exporter_sends_for_counters_and_gauges()
    {
        var queries = Queries();
        Assert.Contains(queries, q => q.Query.Contains("invoker.certificate.watch.days_left", StringComparison.Ordinal));
        foreach (var (name, query) in queries)
        {
            Assert.False(AggregateColumn().IsMatch(query), $"{name} reads {AggregateColumn().Match(query).Value}: the exporter sends value only");
        }
        Assert.Matches(@"daysLeft = value\b", queries.Single(q => q.Name.Contains("days left", StringComparison.Ordinal)).Query);
    }

    [Fact]
    [Trait("Tier", "Fast")]
    public void Every_cause_has_its_one_line_fix_from_operations_md_in_the_dashboard()
    {
        var failures = Queries().Single(q => q.Name.Contains("Failures by code and cause", StringComparison.Ordinal)).Query;
        var rows = FixRow().Matches(failures).ToDictionary(m => Unescape(m.Groups[1].Value), m => Unescape(m.Groups[2].Value));
        var causes = typeof(FailureCauses).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.DoesNotContain(causes, c => !rows.ContainsKey(c));
        var doc = File.ReadAllText(Path.Combine(Tools.RepoRoot, "docs", "operations.md"));
        var section = doc[doc.IndexOf("## Every cause", StringComparison.Ordinal)..];
        foreach (var line in section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)))
        {
            var cells = line.Trim().Trim('|').Split(" | ").Select(c => c.Trim()).ToArray();
            foreach (Match cause in Regex.Matches(cells[0], "`([a-z0-9-]+)`"))
            {
                Assert.True(rows.TryGetValue(cause.Groups[1].Value, out var fix), $"no fix for {cause.Groups[1].Value} in the dashboard");
                Assert.Equal(cells[3], fix); // the doc's own words: update the workbook's datatable with the doc
            }
        }
    }

    private static string Unescape(string text) => text.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    [GeneratedRegex(@"\bvalue(?:Min|Max|Count|Sum|StdDev)\b")]
    private static partial Regex AggregateColumn();

    [GeneratedRegex(@"query: '(.*)'\s*$", RegexOptions.Multiline)]
    private static partial Regex AlertQuery();

    [GeneratedRegex(@"^\s*name: '([^']+)'", RegexOptions.Multiline)]
    private static partial Regex RuleName();

    /// <summary>Where a table's part of a query starts: at a line's start or inside a join's parenthesis.</summary>
    [GeneratedRegex(@"(?:^|\()\s*(customMetrics|dependencies|traces|requests|exceptions|customEvents)\b", RegexOptions.Multiline)]
    private static partial Regex TableStart();

    [GeneratedRegex(@"\bname\s*(?:==\s*""[^""]+""|in\s*\([^)]*\))")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"""([^""]+)""")]
    private static partial Regex Literal();

    [GeneratedRegex(@"customDimensions\[""([^""]+)""\]")]
    private static partial Regex Dimension();

    [GeneratedRegex(@"customDimensions\[""EventId""\]\)\s*==\s*""(\d+)""")]
    private static partial Regex EventId();

    [GeneratedRegex(@"""((?:[^""\\]|\\.)*)"", ""((?:[^""\\]|\\.)*)""")]
    private static partial Regex FixRow();
}
