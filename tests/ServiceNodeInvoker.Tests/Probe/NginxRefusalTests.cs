using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Probe;

/// <summary>
/// nginx refuses a client certificate after the handshake, with a 400 page. The invocation and the
/// probe must tell its five cases apart: trusted, unknown CA, expired, none, and a real 400 of the backend's own.
/// </summary>
public sealed class NginxRefusalTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static async Task<(NginxBackend Nginx, InvokerHost Host, TempFiles Files)> StartAsync(Func<TempFiles, int, ProfileSettings> profile)
    {
        var nginx = await NginxBackend.StartAsync();
        var files = new TempFiles();
        var settings = profile(files, nginx.Port).Settings;
        InvokerHost.WithAdminKey(settings);
        return (nginx, await InvokerHost.StartAsync(settings), files);
    }

    private static ProfileSettings WithClient(TempFiles files, int port, System.Security.Cryptography.X509Certificates.X509Certificate2 client,
        System.Security.Cryptography.X509Certificates.X509Certificate2 intermediate) =>
        new ProfileSettings().Add("payments", port, files.Pfx("client.pfx", ProfileSettings.Password, client, intermediate),
            files.CertificatePem("root.pem", Pki.RootPublic));

    private static async Task<JsonElement> ProbeAsync(InvokerHost host) => (await host.ProbeAsync()).GetProperty("hosts")[0];

    [NginxFact]
    public async Task A_trusted_certificate_is_accepted_by_invocation_and_probe()
    {
        var (nginx, host, files) = await StartAsync((f, port) => ProfileSettings.Standard(f, port));
        await using var _ = nginx; await using var __ = host; using var ___ = files;

        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = $"{nginx.BaseAddress}hello" });
        Assert.Equal(200, envelope.GetProperty("status").GetInt32());
        Assert.Contains("CN=bot-client-rsa", envelope.GetProperty("body").GetProperty("client").GetString());

        var probe = await ProbeAsync(host);
        Assert.True(probe.GetProperty("ok").GetBoolean(), probe.ToString());
        Assert.True(probe.GetProperty("tls").GetProperty("clientCertificateAccepted").GetBoolean());
        Assert.Equal(200, probe.GetProperty("tls").GetProperty("httpStatus").GetInt32());
    }

    [NginxFact]
    public async Task A_certificate_from_an_unknown_ca_is_a_handshake_failure_in_both_modes_and_the_probe_says_refused()
    {
        var (nginx, host, files) = await StartAsync((f, port) => WithClient(f, port, Pki.OtherClient, X509(Pki.OtherIntermediate)));
        await using var _ = nginx; await using var __ = host; using var ___ = files;

        foreach (var mode in new[] { "envelope", "passthrough" })
        {
            using var response = await host.InvokeAsync(new { method = "GET", url = $"{nginx.BaseAddress}hello", response = mode });
            var detail = (await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed)).GetProperty("detail").GetString()!;
            Assert.Contains("The SSL certificate error", detail);
            Assert.Contains("CN=bot-client-unrelated", detail);
        }
        Assert.Contains(host.Logs.Lines, l => l.Contains("re-reading it early", StringComparison.Ordinal)); // like a TLS-level refusal

        var probe = await ProbeAsync(host);
        Assert.False(probe.GetProperty("ok").GetBoolean());
        Assert.False(probe.GetProperty("tls").GetProperty("clientCertificateAccepted").GetBoolean());
        Assert.Equal(400, probe.GetProperty("tls").GetProperty("httpStatus").GetInt32());
        Assert.Contains("refused our client certificate", probe.GetProperty("summary").GetString());
    }

    [NginxFact]
    public async Task An_expired_certificate_is_never_sent_and_both_say_it_expired()
    {
        var expired = Pki.Intermediate.IssueClient("expired-bot", notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        var (nginx, host, files) = await StartAsync((f, port) => WithClient(f, port, expired, Pki.IntermediatePublic));
        await using var _ = nginx; await using var __ = host; using var ___ = files;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{nginx.BaseAddress}hello" });
        var detail = (await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;
        Assert.Contains("expired", detail);

        var probe = await ProbeAsync(host);
        Assert.False(probe.GetProperty("ok").GetBoolean());
        Assert.Contains("ours has expired", probe.GetProperty("summary").GetString());
        Assert.Contains("expired", probe.GetProperty("summary").GetString());
    }

    [NginxFact]
    public async Task No_certificate_at_all_is_named_as_such()
    {
        var (nginx, host, files) = await StartAsync((f, port) =>
            new ProfileSettings().Add("payments", port, pfxPath: null, trustedCaPath: f.CertificatePem("root.pem", Pki.RootPublic)));
        await using var _ = nginx; await using var __ = host; using var ___ = files;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{nginx.BaseAddress}hello" });
        var detail = (await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed)).GetProperty("detail").GetString()!;
        Assert.Contains("No required SSL certificate was sent", detail);
        Assert.Contains("the profile has none", detail);

        var probe = await ProbeAsync(host);
        Assert.False(probe.GetProperty("ok").GetBoolean());
        Assert.Contains("the profile has none", probe.GetProperty("summary").GetString());
    }

    [NginxFact]
    public async Task The_backends_own_400_stays_the_backends_answer()
    {
        var (nginx, host, files) = await StartAsync((f, port) => ProfileSettings.Standard(f, port));
        await using var _ = nginx; await using var __ = host; using var ___ = files;

        var json = await host.InvokeJsonAsync(new { method = "GET", url = $"{nginx.BaseAddress}own-400" });
        Assert.Equal(400, json.GetProperty("status").GetInt32());
        Assert.Equal("bad input", json.GetProperty("body").GetProperty("error").GetString());

        var html = await host.InvokeJsonAsync(new { method = "GET", url = $"{nginx.BaseAddress}own-400-html" });
        Assert.Equal(400, html.GetProperty("status").GetInt32());
        using var passthrough = await host.InvokeAsync(new { method = "GET", url = $"{nginx.BaseAddress}own-400-html", response = "passthrough" });
        Assert.Equal(400, (int)passthrough.StatusCode);
        Assert.Contains("your request was bad", await passthrough.Content.ReadAsStringAsync());
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 X509(CertificateAuthority ca) =>
        System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(ca.Certificate.RawData);
}
