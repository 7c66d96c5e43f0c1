using Microsoft.Extensions.Options;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>
/// Health reports each certificate's own state (a broken client certificate never reads as a missing
/// trusted CA, nor the reverse), the chain that will be sent and the mistakes visible before any call;
/// legacy server crypto is refused unless the profile opts out, and the opt-out is shown as a warning; the pin the
/// probe reports is one the profile accepts. Also the smaller causes: a PEM file given as a PFX, a PFX without a key.
/// </summary>
public sealed class CertificateStateTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>Invokes once (which waits for the profile's load), then reads health's report of the profile.</summary>
    private static async Task<JsonElement> ProfileHealthAsync(InvokerHost host, int port)
    {
        using var _ = await host.InvokeAsync(new { method = "GET", url = $"https://localhost:{port}/echo" });
        return (await host.HealthAsync()).GetProperty("profiles").GetProperty("payments");
    }

    public static IEnumerable<object[]> ClientCertificateMistakes =>
    [
        ["a wrong PFX password", "password"],
        ["a key that does not match the certificate", "key"],
        ["a missing file", "does not exist"],
    ];

    [Theory]
    [MemberData(nameof(ClientCertificateMistakes))]
    public async Task A_broken_client_certificate_is_reported_as_itself_and_the_trusted_ca_as_loaded(string mistake, string named)
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var root = files.CertificatePem("root.pem", Pki.RootPublic);
        var profile = new ProfileSettings().Add("payments", backend.Port, pfxPath: null, trustedCaPath: root);
        switch (mistake)
        {
            case "a wrong PFX password":
                profile.Set("payments", "ClientCertificate:Source", "File")
                    .Set("payments", "ClientCertificate:Path", files.Pfx("client.pfx", "another-password", Pki.ClientRsa, Pki.IntermediatePublic))
                    .Set("payments", "ClientCertificate:Password", ProfileSettings.Password);
                break;
            case "a key that does not match the certificate":
                profile.Set("payments", "ClientCertificate:Source", "Pem")
                    .Set("payments", "ClientCertificate:CertificatePath", files.CertificatePem("client.pem", Pki.ClientRsa))
                    .Set("payments", "ClientCertificate:KeyPath", files.KeyPem("other.key", Pki.OtherClient, "pkcs8"));
                break;
            default:
                profile.Add("payments", backend.Port, Path.Combine(files.Directory, "gone.pfx"), root);
                break;
        }
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        var health = await ProfileHealthAsync(host, backend.Port);

        Assert.Equal("unhealthy", health.GetProperty("status").GetString());
        var certificate = health.GetProperty("certificate");
        Assert.False(certificate.GetProperty("loaded").GetBoolean());
        Assert.Contains(named, certificate.GetProperty("error").GetString());
        var trustedCa = health.GetProperty("trustedCa");
        Assert.True(trustedCa.GetProperty("loaded").GetBoolean(), $"{mistake}: the trusted CA is fine: {trustedCa}");
        Assert.Equal(JsonValueKind.Null, trustedCa.GetProperty("error").ValueKind);
        Assert.Equal("CN=Test Root CA", trustedCa.GetProperty("certificates")[0].GetProperty("subject").GetString());
        var reasons = health.GetProperty("reasons").ToString();
        Assert.Contains("the client certificate is not loaded", reasons);
        Assert.DoesNotContain("trusted CA", reasons);
    }

    [Fact]
    public async Task A_wrong_trusted_ca_path_is_reported_as_itself_and_the_client_certificate_as_loaded()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var pfx = files.Pfx("client.pfx", ProfileSettings.Password, Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Add("payments", backend.Port, pfx, Path.Combine(files.Directory, "no-root.pem")).Settings);

        var health = await ProfileHealthAsync(host, backend.Port);

        var certificate = health.GetProperty("certificate");
        Assert.True(certificate.GetProperty("loaded").GetBoolean());
        Assert.Equal("CN=bot-client-rsa", certificate.GetProperty("subject").GetString());
        Assert.Equal(JsonValueKind.Null, certificate.GetProperty("error").ValueKind);
        var trustedCa = health.GetProperty("trustedCa");
        Assert.False(trustedCa.GetProperty("loaded").GetBoolean());
        Assert.Contains("'no-root.pem' does not exist", trustedCa.GetProperty("error").GetString());
        var reasons = health.GetProperty("reasons").ToString();
        Assert.Contains("the trusted CA is not loaded", reasons);
        Assert.DoesNotContain("client certificate", reasons);
    }

    [Fact]
    public async Task Health_shows_the_chain_sent_and_degrades_for_a_certificate_not_made_for_clients()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var serverAsClient = OddCertificates.Leaf(["bot-as-server"]); // serverAuth only
        var pfx = files.Pfx("client.pfx", ProfileSettings.Password, serverAsClient, Pki.IntermediatePublic);
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Add("payments", backend.Port, pfx, files.CertificatePem("root.pem", Pki.RootPublic)).Settings);

        var health = await ProfileHealthAsync(host, backend.Port);

        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Contains("not made for client authentication", health.GetProperty("reasons").ToString());
        var chain = health.GetProperty("certificate").GetProperty("chain");
        Assert.Equal(["CN=bot-as-server", "CN=Test Intermediate CA"], chain.EnumerateArray().Select(c => c.GetProperty("subject").GetString()));
        Assert.Equal(64, chain[1].GetProperty("thumbprintSha256").GetString()!.Length);
        Assert.True(chain[1].TryGetProperty("notAfter", out _));
    }

    [Fact]
    public async Task A_leaf_sent_without_its_intermediate_is_a_warning_naming_the_missing_issuer()
    {
        await using var backend = await Pki.StartBackendAsync(); // trusts the root only: it refuses the leaf alone
        using var files = new TempFiles();
        var pfx = files.Pfx("leaf-only.pfx", ProfileSettings.Password, Pki.ClientRsa);
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Add("payments", backend.Port, pfx, files.CertificatePem("root.pem", Pki.RootPublic)).Settings);

        var health = await ProfileHealthAsync(host, backend.Port);

        var warning = Assert.Single(health.GetProperty("warnings").EnumerateArray()).GetString()!;
        Assert.Contains("sent without its issuer 'CN=Test Intermediate CA'", warning);
        Assert.Contains("trusts only the root will refuse", warning);
        Assert.Single(health.GetProperty("certificate").GetProperty("chain").EnumerateArray());
    }

    [Fact]
    public async Task A_complete_chain_has_no_warning()
    {
        await using var scenario = await Scenario.Standard().StartAsync();
        var (backend, host) = scenario;

        var health = await ProfileHealthAsync(host, backend.Port);

        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Empty(health.GetProperty("warnings").EnumerateArray());
        Assert.Equal(2, health.GetProperty("certificate").GetProperty("chain").GetArrayLength());
    }

    [NginxFact]
    public async Task Legacy_server_crypto_is_accepted_only_with_the_opt_out_which_health_and_the_probe_show()
    {
        var weak = OddCertificates.Leaf(["localhost"], rsaBits: 1024);
        await using var nginx = await NginxBackend.StartAsync(async (prefix, port) =>
        {
            var pem = Path.Combine(prefix, "server.pem");
            await File.WriteAllTextAsync(pem, weak.ExportCertificatePem() + "\n" + Pki.IntermediatePublic.ExportCertificatePem());
            var key = Path.Combine(prefix, "server.key");
            await File.WriteAllTextAsync(key, weak.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
            return $$"""
                server {
                  listen 127.0.0.1:{{port}} ssl;
                  ssl_certificate {{pem}};
                  ssl_certificate_key {{key}};
                  ssl_ciphers DEFAULT:@SECLEVEL=0;
                  location / { return 200 'legacy ok'; }
                }
                """;
        });
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, nginx.Port).Set("payments", "AllowLegacyServerCrypto", "true").Settings;
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings));

        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = $"{nginx.BaseAddress}" });
        Assert.Equal(200, envelope.GetProperty("status").GetInt32());

        var health = (await host.HealthAsync()).GetProperty("profiles").GetProperty("payments");
        Assert.Contains("AllowLegacyServerCrypto is set", health.GetProperty("warnings").ToString());

        var probe = await host.ProbeAsync();
        Assert.True(probe.GetProperty("ok").GetBoolean());
        Assert.Contains("AllowLegacyServerCrypto is set", probe.GetProperty("warnings").ToString());
        var report = probe.GetProperty("hosts")[0];
        Assert.Contains("accepted only because AllowLegacyServerCrypto is set: 'CN=localhost' has a 1024-bit RSA key", report.GetProperty("warnings").ToString());
        var leaf = report.GetProperty("tls").GetProperty("serverChain")[0];
        Assert.Equal("RSA 1024 bits", leaf.GetProperty("key").GetString());
        Assert.Equal(["localhost"], leaf.GetProperty("subjectAlternativeNames").EnumerateArray().Select(n => n.GetString()));
        Assert.StartsWith("sha256/", leaf.GetProperty("spkiPin").GetString());
        Assert.Equal(64, leaf.GetProperty("thumbprintSha256").GetString()!.Length);
    }

    [Fact]
    public async Task The_pin_the_probe_reports_is_one_the_profile_accepts()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        string pin;
        {
            await using var first = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));
            pin = (await first.ProbeAsync()).GetProperty("hosts")[0].GetProperty("tls").GetProperty("serverChain")[0].GetProperty("spkiPin").GetString()!;
        }
        var pinned = ProfileSettings.Standard(files, backend.Port).Set("payments", "ServerCertificatePins:0", pin).Settings;
        await using var host = await InvokerHost.StartAsync(pinned);
        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        Assert.Equal(200, envelope.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_pem_file_given_as_a_pfx_suggests_source_pem()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var pem = files.Text("client.pem", Pki.ClientRsa.ExportCertificatePem() + "\n" + Pki.ClientRsa.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Add("payments", backend.Port, pem, files.CertificatePem("root.pem", Pki.RootPublic)).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        var detail = (await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;
        Assert.Contains("'client.pem' is PEM text, not a PFX", detail);
        Assert.Contains("Source=Pem", detail);
        Assert.DoesNotContain("password", detail);
    }

    [Fact]
    public async Task A_pfx_without_a_private_key_names_the_file()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var pfx = files.Pfx("no-key.pfx", ProfileSettings.Password, Pki.RootPublic, Pki.IntermediatePublic);
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Add("payments", backend.Port, pfx, files.CertificatePem("root.pem", Pki.RootPublic)).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        var detail = (await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;
        Assert.Contains("file 'no-key.pfx'", detail);
        Assert.Contains("no certificate with a private key", detail);
    }

}
