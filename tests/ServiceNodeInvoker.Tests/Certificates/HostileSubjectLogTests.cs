namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>
/// A certificate's subject is text another party wrote (a partner's CA, whoever filled the vault): every log event that names one —
/// the client certificate loaded (1001), the trusted CAs loaded (1005), the expiry warning (1006), the expiry watch (1007–1011) —
/// writes it escaped and capped (LogText.Quote), so a subject can neither forge a log line, colour a terminal, nor fill the log.
/// </summary>
public sealed class HostileSubjectLogTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>CR/LF that would start a forged line, an ANSI colour escape, and 10 KB.</summary>
    private static readonly string Forged = "evil\r\nClient certificate of payments loaded: subject CN=ok\u001b[31m" + new string('x', 10 * 1024);

    [Fact]
    public async Task Events_naming_a_hostile_subject_are_one_line_escaped_and_capped()
    {
        var now = DateTimeOffset.UtcNow;
        using var files = new TempFiles();
        // Inside the 30-day warning window, so the refresh warns (1006) and the watch reports it (1008).
        var client = Pki.ClientNamed(Forged, now.AddDays(-1), now.AddDays(20));
        var settings = ProfileSettings.Standard(files, 1, name: "hostile-subject", client: client).Settings;
        // The trusted CAs: the test root and a CA named as hostilely, many times over (a bundle as large as the file limit allows
        // would otherwise be one event of megabytes).
        var bundle = new[] { Pki.RootPublic }.Concat(Enumerable.Range(0, 20).Select(_ => TestPki.CaNamed(Forged, now.AddYears(1)))).ToArray();
        settings["Invoker:Profiles:hostile-subject:TrustedCa:Path"] = files.CertificatePem("hostile-subject-cas.pem", bundle);
        var events = new LogEvents();
        await using var host = await InvokerHost.StartAsync(settings, b => b.Logging.AddProvider(events));
        await Poll.UntilAsync(() => events.WithId(1012).Any() && events.WithId(1006).Any(), "the certificates' loads, the expiry warning and the watch's run");

        var loaded = Assert.Single(events.WithId(1001), e => e.Message.Contains("hostile-subject", StringComparison.Ordinal));
        var trusted = Assert.Single(events.WithId(1005), e => e.Message.Contains("hostile-subject", StringComparison.Ordinal));
        var warned = Assert.Single(events.WithId(1006), e => e["Profile"] == "hostile-subject");
        var watched = Assert.Single(events.All, e => e.Id == 1008 && e["Profile"] == "hostile-subject" && e["Role"] == "client");
        foreach (var (e, value) in new[] { (loaded, loaded["Subject"]), (trusted, trusted["Subjects"]), (warned, warned["Subject"]), (watched, watched["Subject"]) })
        {
            Assert.DoesNotContain('\n', e.Message);
            Assert.DoesNotContain('\r', e.Message);
            Assert.DoesNotContain('\u001b', e.Message);
            Assert.NotNull(value);
            Assert.Contains("CN=\"evil\\x0D\\x0AClient certificate of payments loaded", value); // as .NET formats the name
            Assert.EndsWith("characters)", value); // capped, saying how long it was
            Assert.True(e.Message.Length < 2000, $"event {e.Id} is {e.Message.Length} characters long");
        }
        // Each CA's subject is capped on its own, and the list as a whole: the event names the first few, not 20 × 10 KB.
        Assert.Equal("21", trusted["Count"]);
        Assert.StartsWith("CN=Test Root CA; CN=\"evil", trusted["Subjects"]);
    }
}
