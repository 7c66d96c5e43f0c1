using System.Security.Authentication;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// When a backend refuses our certificate, the invocation's 502 knows as much as health and the probe: it names our chain's
/// missing intermediate, and the CAs the server said it accepts — from the handshake itself (TLS 1.2), from the probe
/// (TLS 1.3 hides them from the call), or else where to see them (issue 34, item 4).
/// </summary>
public sealed class RefusalDetailTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static async Task<string> RefusedDetailAsync(InvokerHost host, MutualTlsBackend backend)
    {
        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Equal(FailureCauses.ClientCertificateRefused, problem.GetProperty("cause").GetString());
        return problem.GetProperty("detail").GetString()!;
    }

    [Fact]
    public async Task A_chain_without_its_intermediate_is_named_in_the_refusal()
    {
        await using var backend = await Pki.StartBackendAsync(); // trusts the root only: the intermediate must come from us
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("payments", backend.Port, files.Pfx("leaf-only.pfx", ProfileSettings.Password, Pki.ClientRsa),
            files.CertificatePem("root.pem", Pki.RootPublic));
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings.Settings));

        var detail = await RefusedDetailAsync(host, backend);

        Assert.Contains("is sent without its issuer 'CN=Test Intermediate CA'", detail);
        Assert.Contains("add the intermediate", detail);
        Assert.DoesNotContain("Check that the backend trusts", detail); // the known reason, not the generic list
        var health = await host.ProfileHealthAsync(h => h.GetProperty("certificate").GetProperty("loaded").GetBoolean());
        Assert.Contains(health.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!), w => detail.Contains(w[1..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_backend_that_trusts_another_ca_is_answered_with_the_cas_it_named_once_the_probe_has_seen_them()
    {
        await using var backend = await Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData),
            announceClientRoot: true);
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));

        // TLS 1.3: the call cannot see the CertificateRequest; it says where to look.
        var before = await RefusedDetailAsync(host, backend);
        Assert.Contains("The probe (POST /api/profiles/payments/probe) lists the CAs the server names as accepted", before);
        Assert.DoesNotContain("Unrelated Root CA", before);

        var probed = (await host.ProbeAsync()).GetProperty("hosts")[0].GetProperty("tls");
        Assert.Contains("CN=Unrelated Root CA", probed.GetProperty("acceptableIssuers").EnumerateArray().Select(i => i.GetString()));

        var after = await RefusedDetailAsync(host, backend);
        Assert.Contains("The server named the CAs it accepts (seen by the probe", after);
        Assert.Contains("'CN=Unrelated Root CA'; ours is issued by 'CN=Test Intermediate CA'", after);
    }

    [Fact]
    public async Task Under_tls_1_2_the_call_reads_the_cas_the_server_named_from_its_own_handshake()
    {
        await using var backend = await Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData),
            announceClientRoot: true, protocols: SslProtocols.Tls12);
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));

        var detail = await RefusedDetailAsync(host, backend);

        Assert.Contains("The server named the CAs it accepts: 'CN=Unrelated Root CA'; ours is issued by 'CN=Test Intermediate CA'", detail);
    }
    [NginxFact]
    public async Task Nginx_refusal_pages_name_the_cas_it_accepts_too()
    {
        await using var nginx = await NginxBackend.StartAsync(); // ssl_client_certificate: the test root, named in its CertificateRequest
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("payments", nginx.Port, files.Pfx("client.pfx", ProfileSettings.Password, Pki.OtherClient,
            X509CertificateLoader.LoadCertificate(Pki.OtherIntermediate.Certificate.RawData)), files.CertificatePem("root.pem", Pki.RootPublic));
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings.Settings));
        await host.ProbeAsync();

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{nginx.BaseAddress}hello" });
        var detail = (await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed)).GetProperty("detail").GetString()!;

        Assert.Contains("The SSL certificate error", detail);
        Assert.Contains("The server named the CAs it accepts", detail);
        Assert.Contains("'CN=Test Root CA'; ours is issued by 'CN=Unrelated Intermediate CA'", detail);
    }
}
