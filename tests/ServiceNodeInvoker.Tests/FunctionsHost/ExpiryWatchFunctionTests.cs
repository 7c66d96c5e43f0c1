using ServiceNodeInvoker.TestSupport.FunctionsHost;
using ServiceNodeInvoker.TestSupport.Otlp;

namespace ServiceNodeInvoker.Tests.FunctionsHost;

/// <summary>
/// The expiry watch's timer function in the real isolated worker under the host fixture, its telemetry received over OTLP
/// (the worker is its own process): it runs at start-up (runOnStartup) and on its schedule, and reports days left for a file
/// certificate, its chain and a trusted CA with each threshold, and a failing source as failing.
/// </summary>
public sealed class ExpiryWatchFunctionTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static Dictionary<string, string> AppSettings(Dictionary<string, string?> settings, IReadOnlyDictionary<string, string> more)
    {
        var all = settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        foreach (var (key, value) in more)
        {
            all[key] = value;
        }
        return all;
    }

    [FunctionsFact]
    public async Task The_timer_runs_at_start_up_and_on_schedule_and_reports_days_left_thresholds_and_a_failing_source()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        using var files = new TempFiles();
        var now = DateTimeOffset.UtcNow;
        var client = Pki.Intermediate.IssueClient("fn-watch-client", notAfter: now.AddDays(20).AddHours(1));
        var root = CertificateAuthority.CreateRoot("fn-watch-root", now.AddDays(5).AddHours(1)).Certificate;
        var expired = Pki.Intermediate.IssueClient("fn-watch-expired", notAfter: now.AddDays(-2));
        var settings = ProfileSettings.Standard(files, 1, name: "fnwatch", client: client).Settings;
        settings["Invoker:Profiles:fnwatch:TrustedCa:Path"] = files.CertificatePem("fn-root.pem", root);
        foreach (var (key, value) in ProfileSettings.Standard(files, 2, name: "fnexpired", client: expired).Settings)
        {
            settings[key] = value;
        }
        settings["Invoker:Profiles:fnbroken:Hosts:0"] = "broken.example";
        settings["Invoker:Profiles:fnbroken:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:fnbroken:ClientCertificate:Path"] = Path.Combine(files.Directory, "fn-missing.pfx");
        await using var host = await WorkerHost.StartAsync(AppSettings(settings, otlp.Environment));

        Assert.Equal("0 0 6 * * *", host.TimerSchedules["ExpiryWatch"]); // daily at 06:00 UTC
        var startup = Assert.Single(await host.StartupTimerRuns); // runOnStartup: it ran without waiting for its schedule
        Assert.True(startup.Result.Status == Microsoft.Azure.Functions.Worker.Grpc.Messages.StatusResult.Types.Status.Success, $"{startup.Result}\n{host.Output}");
        await Poll.UntilAsync(() => otlp.WithEventId(1012).Any(), $"the watch's summary over OTLP ({otlp.Logs.Count} logs: {string.Join(", ", otlp.Logs.Take(5).Select(l => l.EventId + " " + l.EventName + " " + string.Join(";", l.Attributes.Keys)))}; {otlp.Points.Count} points, {otlp.Spans.Count} spans)");

        ExportedLog About(string profile, string role) =>
            Assert.Single(otlp.Logs, l => l.EventId is >= 1007 and <= 1011 && l["Profile"] == profile && l["Role"] == role);
        var leaf = About("fnwatch", "client");
        Assert.Equal((1008, "Warning", "20", "CN=fn-watch-client"), (leaf.EventId, leaf.Severity, leaf["DaysLeft"], leaf["Subject"]));
        Assert.Equal(1007, About("fnwatch", "chain").EventId);
        var ca = About("fnwatch", "trusted-ca");
        Assert.Equal((1009, "Error", "5"), (ca.EventId, ca.Severity, ca["DaysLeft"]));
        var gone = About("fnexpired", "client");
        Assert.Equal((1010, "Error", "-2"), (gone.EventId, gone.Severity, gone["DaysLeft"]));
        var broken = About("fnbroken", "client");
        Assert.Equal(1011, broken.EventId); // a failing source, not an expired certificate
        Assert.Contains("'fn-missing.pfx' does not exist", broken["Reason"]);
        Assert.DoesNotContain(ProfileSettings.Password, string.Join('\n', otlp.Logs.Select(l => l.Body + string.Join(' ', l.Attributes.Values))));

        // The metric, flushed by the run (the export interval alone would be a minute on Azure).
        var days = otlp.Points.Where(p => p.Name == "invoker.certificate.watch.days_left").ToList();
        var clientDays = days.Last(p => p.Attributes.GetValueOrDefault("invoker.profile") == "fnwatch" && p.Attributes["invoker.certificate.role"] == "client");
        Assert.InRange(clientDays.Value!.Value, 20, 20.1);
        Assert.Equal(("warning", "CN=fn-watch-client"), (clientDays.Attributes["invoker.certificate.status"], clientDays.Attributes["invoker.certificate.subject"]));
        Assert.DoesNotContain(days, p => p.Attributes.GetValueOrDefault("invoker.profile") == "fnbroken");
        Assert.Contains(otlp.Points, p => p.Name == "invoker.certificate.watch.checks" && p.Attributes.GetValueOrDefault("invoker.profile") == "fnbroken"
            && p.Attributes["invoker.certificate.status"] == "failing");

        // Its schedule comes due: the host fires it again, and it reports again.
        var scheduled = await host.InvokeTimerAsync("ExpiryWatch");
        Assert.True(scheduled.Result.Status == Microsoft.Azure.Functions.Worker.Grpc.Messages.StatusResult.Types.Status.Success, scheduled.Result.ToString());
        await Poll.UntilAsync(() => otlp.WithEventId(1012).Count() >= 2, "the second run's summary");
        var summary = otlp.WithEventId(1012).Last();
        Assert.Equal(("1", "1", "1", "1"), (summary["Warnings"], summary["Errors"], summary["Expired"], summary["Failing"]));
    }
}
