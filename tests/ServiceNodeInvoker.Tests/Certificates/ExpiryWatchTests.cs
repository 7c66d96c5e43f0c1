using System.Security.Cryptography;
using Azure.Core;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry.Metrics;
using OpenTelemetry;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>
/// The expiry watch in the standalone host (its background service: at start-up, then daily) on a fake clock: days left per
/// certificate as a metric and as log events, the thresholds, a failing source reported as failing, Key Vault certificates and
/// a Key Vault client secret through the real SDK against the vault fake.
/// </summary>
[Collection(ServiceNodeInvoker.Tests.Telemetry.ExportedMetricsCollection.Name)]
public sealed class ExpiryWatchTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>A host with a fake clock whose log events and metrics the test reads.</summary>
    private sealed class Watched(InvokerHost host, LogEvents events, List<Metric> metrics, FakeTimeProvider clock) : IAsyncDisposable
    {
        public InvokerHost Host => host;
        public LogEvents Events => events;
        public FakeTimeProvider Clock => clock;

        public static async Task<Watched> StartAsync(Dictionary<string, string?> settings, FakeTimeProvider clock, Action<IServiceCollection>? services = null)
        {
            var events = new LogEvents();
            var metrics = new List<Metric>();
            var host = await InvokerHost.StartAsync(settings, b =>
            {
                b.Logging.AddProvider(events);
                b.Services.AddSingleton<TimeProvider>(clock);
                b.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics));
                services?.Invoke(b.Services);
            });
            return new Watched(host, events, metrics, clock);
        }

        /// <summary>The same, with <paramref name="vault"/> as the host's Key Vault (and a credential for it).</summary>
        public static Task<Watched> StartAsync(Dictionary<string, string?> settings, FakeTimeProvider clock, KeyVaultFake vault) =>
            StartAsync(settings, clock, services =>
            {
                services.AddSingleton<TokenCredential>(new StaticTokenCredential());
                vault.Register(services);
            });

        /// <summary>Waits for the watch's <paramref name="run"/>th summary (event 1012).</summary>
        public Task RunsAsync(int run) => Poll.UntilAsync(() => events.WithId(1012).Count() >= run, $"expiry watch run {run}");

        /// <summary>The events of the watch's last run about <paramref name="profile"/>'s <paramref name="role"/>.</summary>
        public List<LogEvent> About(string profile, string role) =>
            events.All.Where(e => e.Id is >= 1007 and <= 1011 && e["Profile"] == profile && e["Role"] == role).ToList();

        /// <summary>The last value of a metric point with these tags (metrics are process-wide: tests use profile names of their own).</summary>
        public IReadOnlyList<(double? Value, long? Count, Dictionary<string, object?> Tags)> Points(string name, string profile)
        {
            var found = new List<(double?, long?, Dictionary<string, object?>)>();
            lock (metrics)
            {
                // The exporter appends each export's metrics: the last one named so holds the current points.
                foreach (var metric in metrics.Where(m => m.Name == name).TakeLast(1))
                {
                    foreach (ref readonly var point in metric.GetMetricPoints())
                    {
                        var tags = new Dictionary<string, object?>();
                        foreach (var tag in point.Tags) { tags[tag.Key] = tag.Value; }
                        if (!Equals(tags.GetValueOrDefault("invoker.profile"), profile))
                        {
                            continue;
                        }
                        found.Add(metric.MetricType == MetricType.DoubleGauge ? (point.GetGaugeLastValueDouble(), null, tags) : (null, point.GetSumLong(), tags));
                    }
                }
            }
            return found;
        }

        public ValueTask DisposeAsync() => host.DisposeAsync();
    }

    /// <summary>A fake clock that counts the timers armed for a due time (Task.Delay on it arms one per call).</summary>
    private sealed class CountingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<TimeSpan, int> _armed = new();

        public int Armed(TimeSpan due) => _armed.GetValueOrDefault(due);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            _armed.AddOrUpdate(dueTime, 1, (_, n) => n + 1);
            return timer;
        }
    }

    [Fact]
    public async Task The_standalone_watch_reports_every_certificate_at_start_up_and_again_a_day_later_with_the_thresholds()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new CountingClock(now);
        using var files = new TempFiles();
        var client = Pki.Intermediate.IssueClient("watch-client", notAfter: now.AddDays(40));
        var partnerRoot = CertificateAuthority.CreateRoot("watch-partner-root", now.AddDays(20)).Certificate;
        var settings = ProfileSettings.Standard(files, 1, name: "watch-files", client: client).Settings;
        settings["Invoker:Profiles:watch-files:TrustedCa:Path"] = files.CertificatePem("partner-root.pem", partnerRoot);
        settings["Invoker:Profiles:watch-broken:Hosts:0"] = "broken.example";
        settings["Invoker:Profiles:watch-broken:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:watch-broken:ClientCertificate:Path"] = Path.Combine(files.Directory, "missing.pfx");
        settings["Invoker:Callers:Mode"] = "KeyOrCertificate";
        settings["Invoker:Callers:CertificateAuthority:Source"] = "File";
        settings["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem("caller-root.pem", Pki.RootPublic);
        settings["Invoker:Callers:Certificates:partner:Subject"] = "CN=partner-bot";
        await using var watched = await Watched.StartAsync(settings, clock);

        await watched.RunsAsync(1);

        var leaf = Assert.Single(watched.About("watch-files", "client"));
        Assert.Equal(1007, leaf.Id);
        Assert.Equal("39", leaf["DaysLeft"]); // whole days towards zero: 39.9 days left
        Assert.Equal(client.Subject, leaf["Subject"]);
        Assert.Equal(CertificateFacts.ThumbprintSha256(client), leaf["Thumbprint"]);
        Assert.Equal(1007, Assert.Single(watched.About("watch-files", "chain")).Id); // the intermediate sent with it
        var ca = Assert.Single(watched.About("watch-files", "trusted-ca"));
        Assert.Equal((1008, LogLevel.Warning, "19"), (ca.Id, ca.Level, ca["DaysLeft"]));
        Assert.Equal(partnerRoot.Subject, ca["Subject"]);
        var callerCa = Assert.Single(watched.About("Invoker:Callers:CertificateAuthority", "caller-ca"));
        Assert.Equal(1007, callerCa.Id);
        // The missing file is a failing source, never an expired certificate.
        var broken = Assert.Single(watched.About("watch-broken", "client"));
        Assert.Equal((1011, LogLevel.Warning), (broken.Id, broken.Level));
        Assert.Contains("'missing.pfx' does not exist", broken["Reason"]);
        Assert.DoesNotContain(files.Directory, broken.Message); // the file's name, never its folder
        Assert.DoesNotContain(ProfileSettings.Password, string.Join('\n', watched.Events.All.Select(e => e.Message)));

        // The metric: days left per certificate (flushed by the run, right after its summary line), and the failing source
        // counted as failing with no days.
        await Poll.UntilAsync(() => watched.Points(InvokerTelemetry.WatchChecks, "watch-broken").Count > 0, "the run's metrics, flushed");
        var days = watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-files");
        var clientDays = Assert.Single(days, p => Equals(p.Tags["invoker.certificate.role"], "client"));
        Assert.InRange(clientDays.Value!.Value, 39.9, 40.01);
        Assert.Equal("ok", clientDays.Tags["invoker.certificate.status"]);
        Assert.Equal(CertificateFacts.ThumbprintSha256(client), clientDays.Tags["invoker.certificate.thumbprint"]);
        Assert.Equal("warning", Assert.Single(days, p => Equals(p.Tags["invoker.certificate.role"], "trusted-ca")).Tags["invoker.certificate.status"]);
        Assert.Empty(watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-broken"));
        var failing = Assert.Single(watched.Points(InvokerTelemetry.WatchChecks, "watch-broken"));
        Assert.Equal(("failing", 1L), (failing.Tags["invoker.certificate.status"], failing.Count));

        // 34 days later (the daily schedule runs): the client certificate is inside 7 days, the partner's root has expired.
        // The service waits its day after the run has flushed its telemetry (what the test just read): advanced before that
        // wait is armed, the clock would put the next run a day past the advance, where nothing moves it again.
        await Poll.UntilAsync(() => clock.Armed(ExpiryWatchService.Period) >= 1, "the watch's next run to be scheduled");
        var before = watched.Events.All.Count;
        watched.Clock.Advance(TimeSpan.FromDays(34));
        await watched.RunsAsync(2);
        var later = watched.Events.All.Skip(before).ToList();
        var soon = Assert.Single(later, e => e["Profile"] == "watch-files" && e["Role"] == "client" && e.Id is >= 1007 and <= 1011);
        Assert.Equal((1009, LogLevel.Error, "5"), (soon.Id, soon.Level, soon["DaysLeft"]));
        var expired = Assert.Single(later, e => e["Profile"] == "watch-files" && e["Role"] == "trusted-ca" && e.Id is >= 1007 and <= 1011);
        Assert.Equal((1010, LogLevel.Error), (expired.Id, expired.Level));
        Assert.StartsWith("expired", expired["Expiry"]);
        Assert.Equal(1011, Assert.Single(later, e => e["Profile"] == "watch-broken" && e.Id is >= 1007 and <= 1011).Id); // still failing, not expired
        var summary = later.Last(e => e.Id == 1012);
        Assert.Equal(("1", "1", "1"), (summary["Errors"], summary["Expired"], summary["Failing"]));

        // The gauge now reports what this run found, and only that: the first run's 'ok' value of the same certificate is not
        // still exported beside it (a cumulative reader, OTLP's default, would otherwise report it for the life of the process).
        await Poll.UntilAsync(() => watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-files").Any(p => Equals(p.Tags["invoker.certificate.status"], "error")),
            "the second run's days left, flushed");
        var clientNow = Assert.Single(watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-files"), p => Equals(p.Tags["invoker.certificate.role"], "client"));
        Assert.Equal("error", clientNow.Tags["invoker.certificate.status"]);
        Assert.InRange(clientNow.Value!.Value, 5.9, 6.01);
    }

    [Fact]
    public async Task Key_Vault_certificates_and_a_client_secrets_recorded_expiry_are_watched_and_a_missing_secret_is_failing()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(now);
        await using var vault = await KeyVaultFake.StartAsync();
        var client = Pki.Intermediate.IssueClient("watch-kv-client", notAfter: now.AddDays(12));
        vault.SetPkcs12("watch-client", client, Pki.IntermediatePublic);
        vault.SetPem("watch-root", Pki.RootPublic.ExportCertificatePem());
        vault.SetSecret("watch-secret", "s3cret-value-never-logged", now.AddDays(3));
        var settings = new ProfileSettings()
            .Set("watch-kv", "Hosts:0", "localhost:1")
            .Set("watch-kv", "ClientCertificate:Source", "KeyVault")
            .Set("watch-kv", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("watch-kv", "ClientCertificate:Name", "watch-client")
            .Set("watch-kv", "TrustedCa:Source", "KeyVault")
            .Set("watch-kv", "TrustedCa:VaultUri", vault.VaultUri.ToString())
            .Set("watch-kv", "TrustedCa:Name", "watch-root")
            .Set("watch-kv", "Token:Endpoint", "https://localhost:2/token")
            .Set("watch-kv", "Token:ClientId", "bot")
            .Set("watch-kv", "Token:ClientAuthentication", "ClientSecretBasic")
            .Set("watch-kv", "Token:ClientSecret:Source", "KeyVault")
            .Set("watch-kv", "Token:ClientSecret:VaultUri", vault.VaultUri.ToString())
            .Set("watch-kv", "Token:ClientSecret:Name", "watch-secret")
            .Set("watch-gone", "Hosts:0", "localhost:3")
            .Set("watch-gone", "Token:Endpoint", "https://localhost:4/token")
            .Set("watch-gone", "Token:ClientId", "bot")
            .Set("watch-gone", "Token:ClientAuthentication", "ClientSecretBasic")
            .Set("watch-gone", "Token:ClientSecret:Source", "KeyVault")
            .Set("watch-gone", "Token:ClientSecret:VaultUri", vault.VaultUri.ToString())
            .Set("watch-gone", "Token:ClientSecret:Name", "no-such-secret")
            .Settings;
        await using var watched = await Watched.StartAsync(settings, clock, vault);

        await watched.RunsAsync(1);

        var leaf = Assert.Single(watched.About("watch-kv", "client"));
        Assert.Equal((1008, "11"), (leaf.Id, leaf["DaysLeft"]));
        Assert.Contains("Key Vault", leaf["Source"]);
        Assert.Equal(1007, Assert.Single(watched.About("watch-kv", "trusted-ca")).Id);
        var secret = Assert.Single(watched.About("watch-kv", "client-secret"));
        Assert.Equal((1009, LogLevel.Error, "secret 'watch-secret'"), (secret.Id, secret.Level, secret["Subject"]));
        var gone = Assert.Single(watched.About("watch-gone", "client-secret"));
        Assert.Equal(1011, gone.Id);
        Assert.Contains("does not exist (404", gone["Reason"]);
        Assert.DoesNotContain("s3cret-value-never-logged", string.Join('\n', watched.Events.All.Select(e => e.Message + string.Join(' ', e.Values.Values))));
        await Poll.UntilAsync(() => watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-kv").Any(p => Equals(p.Tags["invoker.certificate.role"], "client-secret")), "the run's metrics, flushed");
        var secretDays = Assert.Single(watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-kv"), p => Equals(p.Tags["invoker.certificate.role"], "client-secret"));
        Assert.Equal("error", secretDays.Tags["invoker.certificate.status"]);
    }

    [Fact]
    public async Task A_run_joins_the_loads_at_start_up_and_costs_no_certificate_read_of_its_own()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("watch-cost", Pki.ClientRsa, Pki.IntermediatePublic);
        var settings = new ProfileSettings()
            .Set("watch-cost", "Hosts:0", "localhost:1")
            .Set("watch-cost", "ClientCertificate:Source", "KeyVault")
            .Set("watch-cost", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("watch-cost", "ClientCertificate:Name", "watch-cost")
            .Settings;
        await using var watched = await Watched.StartAsync(settings, clock, vault);
        await watched.RunsAsync(1);
        Assert.Equal(1007, Assert.Single(watched.About("watch-cost", "client")).Id);
        Assert.Equal((1, 0), (vault.SecretGets, vault.CertificateGets)); // the store's cold load, shared

        // A run on a state the hourly refresh keeps fresh reads nothing either.
        await watched.Host.Services.GetRequiredService<CertificateExpiryWatch>().RunAsync(CancellationToken.None);
        Assert.Equal((1, 0), (vault.SecretGets, vault.CertificateGets));
    }
    /// <summary>Token settings whose client secret is the Key Vault secret <paramref name="secret"/> (no client certificate).</summary>
    private static void SecretProfile(Dictionary<string, string?> settings, string profile, int port, KeyVaultFake vault, string secret)
    {
        settings[$"Invoker:Profiles:{profile}:Hosts:0"] = $"localhost:{port}";
        settings[$"Invoker:Profiles:{profile}:Token:Endpoint"] = $"https://localhost:{port + 1}/token";
        settings[$"Invoker:Profiles:{profile}:Token:ClientId"] = "bot";
        settings[$"Invoker:Profiles:{profile}:Token:ClientAuthentication"] = "ClientSecretBasic";
        settings[$"Invoker:Profiles:{profile}:Token:ClientSecret:Source"] = "KeyVault";
        settings[$"Invoker:Profiles:{profile}:Token:ClientSecret:VaultUri"] = vault.VaultUri.ToString();
        settings[$"Invoker:Profiles:{profile}:Token:ClientSecret:Name"] = secret;
    }

    [Fact]
    public async Task A_vault_answer_the_SDK_cannot_read_is_that_secret_failing_and_every_other_certificate_is_still_reported()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var files = new TempFiles();
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetSecret("watch-garbled-secret", "s3cret-garbled", DateTimeOffset.UtcNow.AddDays(90));
        vault.Behaviour = VaultBehaviour.Garbled; // a gateway's 200 page instead of the secret
        var settings = ProfileSettings.Standard(files, 1, name: "watch-beside-garbled").Settings;
        SecretProfile(settings, "watch-garbled", 3, vault, "watch-garbled-secret");
        await using var watched = await Watched.StartAsync(settings, clock, vault);

        await Poll.UntilAsync(() => watched.Events.All.Any(e => e.Id is 1012 or 1013), "the watch's first run to end");

        // One unreadable answer is one failing source, not a run that reports nothing (the alert reads only the metric).
        Assert.Empty(watched.Events.WithId(1013));
        Assert.Equal(1007, Assert.Single(watched.About("watch-beside-garbled", "client")).Id);
        var secret = Assert.Single(watched.About("watch-garbled", "client-secret"));
        Assert.Equal((1011, LogLevel.Warning), (secret.Id, secret.Level));
        Assert.Contains("could not be read", secret["Reason"]);
        Assert.DoesNotContain("s3cret-garbled", string.Join('\n', watched.Events.All.Select(e => e.Message)));
        await Poll.UntilAsync(() => watched.Points(InvokerTelemetry.WatchChecks, "watch-garbled").Count > 0, "the run's metrics, flushed");
        Assert.Equal("failing", Assert.Single(watched.Points(InvokerTelemetry.WatchChecks, "watch-garbled")).Tags["invoker.certificate.status"]);
    }

    [Fact]
    public async Task A_host_stopping_while_a_run_waits_for_the_vault_reports_no_source_as_failing()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("watch-stop", Pki.ClientRsa, Pki.IntermediatePublic);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        vault.Gate = held; // the store's first load waits at the vault, and the run with it
        var settings = new ProfileSettings()
            .Set("watch-stop", "Hosts:0", "localhost:1")
            .Set("watch-stop", "ClientCertificate:Source", "KeyVault")
            .Set("watch-stop", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("watch-stop", "ClientCertificate:Name", "watch-stop")
            .Settings;
        var watched = await Watched.StartAsync(settings, clock, vault);
        try
        {
            await Poll.UntilAsync(() => vault.SecretGets >= 1, "the store's first load at the vault");
            await watched.Host.App.StopAsync();
        }
        finally
        {
            held.TrySetResult();
            await watched.DisposeAsync();
        }

        // Stopping is not the source failing: a run cut short reports nothing rather than an alert-raising 'failing'.
        Assert.Empty(watched.About("watch-stop", "client"));
        Assert.Empty(watched.Points(InvokerTelemetry.WatchChecks, "watch-stop"));
        Assert.Empty(watched.Events.WithId(1013));
    }

    [Fact]
    public async Task A_run_waits_for_a_load_its_patience_on_the_hosts_clock_and_then_reports_the_source_as_failing()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("watch-slow", Pki.ClientRsa, Pki.IntermediatePublic);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        vault.Gate = held;
        var settings = new ProfileSettings()
            .Set("watch-slow", "Hosts:0", "localhost:1")
            .Set("watch-slow", "ClientCertificate:Source", "KeyVault")
            .Set("watch-slow", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("watch-slow", "ClientCertificate:Name", "watch-slow")
            .Settings;
        try
        {
            await using var watched = await Watched.StartAsync(settings, clock, vault);
            await Poll.UntilAsync(() => vault.SecretGets >= 1, "the store's first load at the vault");

            // The watch's 60 s pass on the host's clock (as every other wait of the app does), not on the wall clock.
            await Poll.UntilAsync(() =>
            {
                clock.Advance(TimeSpan.FromSeconds(5));
                return watched.Events.WithId(1012).Any();
            }, "the run to give up waiting after its patience on the fake clock");
            var slow = Assert.Single(watched.About("watch-slow", "client"));
            Assert.Equal(1011, slow.Id);
            Assert.Contains("not read within", slow["Reason"]);
        }
        finally
        {
            held.TrySetResult();
        }
    }

    [Fact]
    public async Task A_hostile_subject_in_a_refused_replacement_reaches_the_failing_event_escaped_and_capped()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(now);
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, 1, name: "watch-hostile").Settings;
        await using var watched = await Watched.StartAsync(settings, clock);
        await watched.RunsAsync(1);

        // The file now holds an expired certificate whose subject forges a log line and is huge: the refresh refuses it and keeps
        // the one in use; the watch reports both, and the refusal's words quote the subject.
        var forged = "evil\r\nExpiry watch ran: 0 certificate(s) checked\u001b[31m" + new string('x', 5000);
        var hostile = Pki.ClientNamed(forged, now.AddDays(-60), now.AddDays(-1));
        files.Pfx("watch-hostile.pfx", ProfileSettings.Password, hostile, Pki.IntermediatePublic);
        var before = watched.Events.All.Count;
        await watched.Host.Services.GetRequiredService<CertificateStore>().All.Single(c => c.Name == "watch-hostile").RefreshAsync(CancellationToken.None);
        await watched.Host.Services.GetRequiredService<CertificateExpiryWatch>().RunAsync(CancellationToken.None);

        var later = watched.Events.All.Skip(before).ToList();
        Assert.Equal(1007, Assert.Single(later, e => e.Id is >= 1007 and <= 1010 && e["Profile"] == "watch-hostile" && e["Role"] == "client").Id); // the one in use
        var failing = Assert.Single(later, e => e.Id == 1011 && e["Profile"] == "watch-hostile");
        Assert.DoesNotContain('\n', failing.Message);
        Assert.DoesNotContain('\r', failing.Message);
        Assert.DoesNotContain('\u001b', failing.Message);
        Assert.Contains("\\x0A", failing["Reason"]);
        Assert.StartsWith("the client certificate from file 'watch-hostile.pfx' now holds", failing["Reason"]);
        Assert.Contains($"… ({forged.Length + 5} characters)", failing["Reason"]); // the subject (CN="…") capped where it is quoted, saying how long it was
        Assert.True(failing.Message.Length < 2000, $"the event is {failing.Message.Length} characters long");
    }

    [Fact]
    public async Task A_source_with_many_certificates_is_reported_one_by_one_up_to_the_limit_and_the_rest_together()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(now);
        using var files = new TempFiles();
        // The client (inside the warning window), its intermediate, and a trusted-CA bundle of the test root and 60 more CAs:
        // 63 certificates, each a metric series of its own if reported one by one.
        var client = Pki.Intermediate.IssueClient("watch-many", notAfter: now.AddDays(20));
        var settings = ProfileSettings.Standard(files, 1, name: "watch-many", client: client).Settings;
        X509Certificate2[] Bundle(string name) =>
            [Pki.RootPublic, .. Enumerable.Range(0, 60).Select(i => TestPki.CaNamed($"{name} {i}", now.AddDays(400 + i)))];
        var bundlePath = files.CertificatePem("watch-many-cas.pem", Bundle("Bundle CA"));
        settings["Invoker:Profiles:watch-many:TrustedCa:Path"] = bundlePath;
        await using var watched = await Watched.StartAsync(settings, clock);
        await watched.RunsAsync(1);
        await Poll.UntilAsync(() => watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-many").Count > 0, "the run's metrics, flushed");

        var oneByOne = watched.Events.All.Where(e => e.Id is >= 1007 and <= 1011 && e["Profile"] == "watch-many").ToList();
        Assert.Equal(ExpiryCheck.PerProfileLimit, oneByOne.Count);
        Assert.Equal(1008, Assert.Single(oneByOne, e => e["Role"] == "client").Id); // the most urgent is never among the rest
        // The 13 furthest from expiry (the 5-year intermediate and the latest CAs), together per role and status.
        var together = watched.Events.WithId(1014).Where(e => e["Profile"] == "watch-many").ToList();
        Assert.Equal([("chain", "1", "ok"), ("trusted-ca", "12", "ok")], together.Select(e => (e["Role"], e["Count"], e["Status"])).OrderBy(t => t.Item1));
        var others = watched.Points(InvokerTelemetry.WatchChecks, "watch-many").Where(p => Equals(p.Tags["invoker.certificate.subject"], ExpiryCheck.Others)).ToList();
        Assert.Equal(13, others.Sum(p => p.Count));
        Assert.Equal(2, others.Count);
        // One thumbprint per status: a dashboard keyed by subject and thumbprint keeps a role's groups of two statuses apart.
        Assert.All(others, p => Assert.Equal($"(others: {p.Tags["invoker.certificate.status"]})", p.Tags["invoker.certificate.thumbprint"]));
        Assert.Equal(ExpiryCheck.PerProfileLimit + 2, watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-many").Count);
        Assert.StartsWith("Expiry watch ran: 63 certificate(s) checked", watched.Events.WithId(1012).First().Message); // the summary counts every one

        // The source rotates to 60 other CAs: the gauge still holds one run's worth of series, not two.
        files.CertificatePem("watch-many-cas.pem", Bundle("Rotated CA"));
        await watched.Host.Services.GetRequiredService<CertificateStore>().All.Single(c => c.Name == "watch-many").RefreshAsync(CancellationToken.None);
        await watched.Host.Services.GetRequiredService<CertificateExpiryWatch>().RunAsync(CancellationToken.None);
        var days = watched.Points(InvokerTelemetry.WatchDaysLeft, "watch-many");
        Assert.Equal(ExpiryCheck.PerProfileLimit + 2, days.Count);
        Assert.Contains(days, p => ((string)p.Tags["invoker.certificate.subject"]!).Contains("Rotated CA", StringComparison.Ordinal));
        Assert.DoesNotContain(days, p => ((string)p.Tags["invoker.certificate.subject"]!).Contains("Bundle CA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_warning_window_is_the_one_health_and_the_refresh_warning_use()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(now);
        using var files = new TempFiles();
        // 30 whole days and a half left: health is degraded ("expires in 30 days", warning window 30 days) and the refresh
        // warns (1006); the watch must not call the same certificate fine.
        var client = Pki.Intermediate.IssueClient("watch-edge", notAfter: now.AddDays(30.5));
        var settings = ProfileSettings.Standard(files, 1, name: "watch-edge", client: client).Settings;
        await using var watched = await Watched.StartAsync(settings, clock);
        await watched.RunsAsync(1);

        var health = await watched.Host.ProfileHealthAsync(p => p.GetProperty("status").GetString() == "degraded", "watch-edge");
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        var leaf = Assert.Single(watched.About("watch-edge", "client"));
        Assert.Equal((1008, LogLevel.Warning, "30"), (leaf.Id, leaf.Level, leaf["DaysLeft"]));
    }
    [Fact]
    public async Task A_429_on_the_watchs_secret_read_pauses_this_instances_other_reads_of_the_vault()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("watch-gate-cert", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.SetSecret("watch-gate-secret", "s3cret-gate", DateTimeOffset.UtcNow.AddDays(90));
        var settings = new ProfileSettings()
            .Set("watch-gate-cert", "Hosts:0", "localhost:1")
            .Set("watch-gate-cert", "ClientCertificate:Source", "KeyVault")
            .Set("watch-gate-cert", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("watch-gate-cert", "ClientCertificate:Name", "watch-gate-cert")
            .Settings;
        SecretProfile(settings, "watch-gate-secret", 3, vault, "watch-gate-secret");
        await using var watched = await Watched.StartAsync(settings, clock, vault);
        await watched.RunsAsync(1);

        // The vault refuses the watch's next read with Retry-After: 600.
        vault.ThrottleNext = 1;
        var before = watched.Events.All.Count;
        await watched.Host.Services.GetRequiredService<CertificateExpiryWatch>().RunAsync(CancellationToken.None);
        var throttled = Assert.Single(watched.Events.All.Skip(before), e => e.Id == 1011 && e["Profile"] == "watch-gate-secret");
        Assert.Contains("throttling (429)", throttled["Reason"]);

        // The instance's next read of that vault (a background refresh) waits out the pause instead of adding to the refusals.
        var requests = vault.Requests.Count;
        await watched.Host.Services.GetRequiredService<CertificateStore>().All.Single(c => c.Name == "watch-gate-cert").RefreshAsync(CancellationToken.None);
        Assert.Equal(requests, vault.Requests.Count);
    }
}
