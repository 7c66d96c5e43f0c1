using System.Security.Authentication;

namespace ServiceNodeInvoker.Tests.Transport;

/// <summary>The mutual-TLS call itself: the chain on the wire, and what happens when either side says no.</summary>
public sealed class MutualTlsTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Fact]
    public async Task Backend_trusting_only_the_root_accepts_our_call_and_sees_leaf_and_intermediate()
    {
        await using var scenario = await Scenario.Standard().StartAsync();
        var (backend, host) = scenario;

        var reply = await host.InvokeJsonAsync(new { method = "POST", url = $"{backend.BaseAddress}echo", body = new { amount = 10 } });

        Assert.Equal(200, reply.GetProperty("status").GetInt32());
        var body = reply.GetProperty("body");
        Assert.Equal("CN=bot-client-rsa", body.GetProperty("clientCertificate").GetString());
        var chain = body.GetProperty("clientChain").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(["CN=bot-client-rsa", "CN=Test Intermediate CA", "CN=Test Root CA"], chain);
        Assert.Equal("payments", reply.GetProperty("profile").GetString());
        Assert.Equal("CN=bot-client-rsa", reply.GetProperty("tls").GetProperty("clientCertificate").GetProperty("subject").GetString());
        Assert.Equal("Tls13", reply.GetProperty("tls").GetProperty("protocol").GetString());
    }

    [Fact]
    public async Task Every_new_connection_presents_the_certificate_again()
    {
        // Regression: with TLS resumption on, the second handler resumed the first one's session and
        // the backend saw no client certificate at all.
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        for (var i = 0; i < 2; i++)
        {
            await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);
            var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
            Assert.Equal("CN=bot-client-rsa", reply.GetProperty("body").GetProperty("clientCertificate").GetString());
        }
        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task The_leaf_alone_is_rejected_by_the_same_backend()
    {
        await using var backend = await Pki.StartBackendAsync();

        // What the platform does with ClientCertificates: only the leaf goes on the wire.
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [Pki.ClientRsa, Pki.IntermediatePublic],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            },
        };
        using var direct = new HttpClient(handler);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => direct.GetAsync(new Uri(backend.BaseAddress, "/echo")));

        // Through the invoker with a PFX holding the leaf only: refused, and we say why.
        using var files = new TempFiles();
        var leafOnly = files.Pfx("leaf-only.pfx", ProfileSettings.Password, Pki.ClientRsa);
        var settings = new ProfileSettings().Add("payments", backend.Port, leafOnly, files.CertificatePem("root.pem", Pki.RootPublic)).Settings;
        await using var host = await InvokerHost.StartAsync(settings);
        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Contains("refused our client certificate", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(SslProtocols.Tls13)]
    [InlineData(SslProtocols.Tls12)]
    public async Task Backend_that_rejects_our_certificate_gives_502_saying_so(SslProtocols protocol)
    {
        await using var scenario = await Scenario.Standard().Backend(pki => pki.StartBackendAsync(protocols: protocol, clientRoot: X509CertificateLoader.LoadCertificate(pki.OtherRoot.Certificate.RawData))).StartAsync();
        var (backend, host) = scenario;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Contains("refused our client certificate", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Untrusted_server_certificate_gives_502()
    {
        await using var scenario = await Scenario.Standard().Backend(pki => pki.StartBackendAsync(server: pki.UntrustedServer)).StartAsync();
        var (backend, host) = scenario;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Contains("is neither sent by the backend nor in the profile's TrustedCa", problem.GetProperty("detail").GetString());
        // TLS 1.3 clients send their certificate before judging the server's, so the backend may have
        // seen our (public) certificate; what matters is that no request went out.
        Assert.Equal(0, backend.Requests);
    }

    [Fact]
    public async Task Server_certificate_from_a_private_CA_without_TrustedCa_is_untrusted()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Set("payments", "TrustedCa:Source", null).Set("payments", "TrustedCa:Path", null).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Contains("system trust store", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Server_certificate_for_another_host_name_gives_502()
    {
        await using var scenario = await Scenario.Standard().Backend(pki => pki.StartBackendAsync(server: pki.WrongNameServer)).StartAsync();
        var (backend, host) = scenario;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
        Assert.Contains("not valid for the host name 'localhost'", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Pinned_key_must_match_the_servers_chain()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var serverSpki = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Pki.Server.PublicKey.ExportSubjectPublicKeyInfo()));
        var otherSpki = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Pki.UntrustedServer.PublicKey.ExportSubjectPublicKeyInfo()));

        var matching = ProfileSettings.Standard(files, backend.Port).Set("payments", "ServerCertificatePins:0", $"sha256/{serverSpki}").Settings;
        await using (var host = await InvokerHost.StartAsync(matching))
        {
            await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        }

        var mismatched = ProfileSettings.Standard(files, backend.Port).Set("payments", "ServerCertificatePins:0", otherSpki).Settings;
        await using (var host = await InvokerHost.StartAsync(mismatched))
        {
            using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
            var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed);
            Assert.Contains("ServerCertificatePins", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task Profile_without_client_certificate_makes_server_verified_calls()
    {
        await using var backend = await Pki.StartBackendAsync(requireClientCertificate: false);
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("public", backend.Port, pfxPath: null, files.CertificatePem("root.pem", Pki.RootPublic)).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal(JsonValueKindNull, reply.GetProperty("tls").GetProperty("clientCertificate").ValueKind);
        Assert.Equal(JsonValueKindNull, reply.GetProperty("body").GetProperty("clientCertificate").ValueKind);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;
}
