using Microsoft.Extensions.Time.Testing;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>A certificate inside the warning window: degraded health and one warning a day, not one per refresh.</summary>
public sealed class ExpiryWarningTests
{
    [Fact]
    public async Task A_certificate_inside_the_window_is_warned_about_once_a_day()
    {
        var pki = TestPki.Instance;
        using var files = new TempFiles();
        var expiring = pki.Intermediate.IssueClient("expiring-soon", notAfter: DateTimeOffset.UtcNow.AddDays(12));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, 443, client: expiring).Settings,
            b => b.Services.AddSingleton<TimeProvider>(time));
        // The refresh's own warning (1006), not the expiry watch's daily events, which say "expires in" too.
        int Warnings() => host.Logs.Lines.Count(l => l.StartsWith("Warning ServiceNodeInvoker.Certificates.CertificateWarnings:", StringComparison.Ordinal)
            && l.Contains("expires in", StringComparison.Ordinal));

        await Poll.UntilAsync(() => Warnings() == 1, "the expected warning state");
        Assert.Contains(host.Logs.Lines, l => l.Contains("expiring-soon", StringComparison.Ordinal) && l.Contains("expires in 11 days", StringComparison.Ordinal));
        // The warning is written during the load; the timer is armed after it ends. Advanced before that, the clock would only
        // push the first refresh out (four refreshes below, not five).
        var started = time.GetUtcNow();
        await Poll.UntilAsync(() => NextRefresh(host) > started, "the first refresh to be scheduled");

        for (var hour = 0; hour < 5; hour++)
        {
            time.Advance(TimeSpan.FromMinutes(70)); // past each hourly refresh (with jitter)
            var advancedTo = time.GetUtcNow();
            // The refresh (and its expiry check) ran and the next one is scheduled: only then advance again.
            await Poll.UntilAsync(() => NextRefresh(host) > advancedTo, "the expected warning state");
        }
        Assert.Equal(1, Warnings()); // five refreshes, but a day has not passed

        time.Advance(TimeSpan.FromHours(20));
        await Poll.UntilAsync(() => Warnings() == 2, "the expected warning state");
    }

    private static DateTimeOffset NextRefresh(InvokerHost host)
    {
        using var response = host.Client.GetAsync("/api/health").GetAwaiter().GetResult();
        var health = System.Text.Json.JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement;
        var last = health.GetProperty("profiles").GetProperty("payments").GetProperty("certificate").GetProperty("nextRefresh");
        return last.ValueKind == System.Text.Json.JsonValueKind.Null ? DateTimeOffset.MinValue : last.GetDateTimeOffset();
    }

}
