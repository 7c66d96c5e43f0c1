using System.Security.Cryptography;

namespace ServiceNodeInvoker.Tests.Callers;

/// <summary>Caller certificates issued by an intermediate, as most enterprise PKIs issue them.</summary>
public sealed class CallerChainTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private static readonly X509Certificate2 PartnerLeaf = Pki.Intermediate.IssueClient("partner-bot");
    private static readonly X509Certificate2 Unlisted = Pki.Intermediate.IssueClient("stranger-bot");

    private static Dictionary<string, string?> Settings(TempFiles files, int port, bool forwarded, params X509Certificate2[] ca)
    {
        var settings = ProfileSettings.Standard(files, port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        settings["Invoker:Callers:Mode"] = "CertificateRequired";
        settings["Invoker:Callers:CertificateAuthority:Source"] = "File";
        settings["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem($"caller-ca-{ca.Length}.pem", ca);
        settings["Invoker:Callers:Certificates:partner:Subject"] = "CN=partner-bot";
        settings["Invoker:Callers:TrustForwardedCertificate"] = forwarded.ToString();
        settings["Invoker:Callers:BehindCertificateForwardingFrontEnd"] = forwarded.ToString();
        return settings;
    }

    private static HttpRequestMessage Invoke(MutualTlsBackend backend, X509Certificate2? forwarded = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke")
        {
            Content = JsonContent.Create(new { method = "GET", url = $"{backend.BaseAddress}echo" }),
        };
        if (forwarded is not null)
        {
            request.Headers.Add("X-ARR-ClientCert", Convert.ToBase64String(forwarded.RawData));
        }
        return request;
    }

    [Fact]
    public async Task A_tls_caller_sending_leaf_and_intermediate_chains_to_the_configured_root()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = Settings(files, backend.Port, forwarded: false, Pki.RootPublic);
        var app = await InvokerHost.StartHttpsAsync(settings, files);
        try
        {
            var port = new Uri(app.Urls.First()).Port;
            HttpClient Client(SslStreamCertificateContext? context, X509Certificate2? leafOnly = null) => new(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    ClientCertificateContext = context,
                    ClientCertificates = leafOnly is null ? null : [leafOnly],
                    RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == Pki.Server.GetCertHashString(),
                },
            }) { BaseAddress = new Uri($"https://localhost:{port}") };

            using var withChain = Client(SslStreamCertificateContext.Create(PartnerLeaf, Pki.Intermediate.Intermediates(), offline: true));
            using var ok = await withChain.SendAsync(Invoke(backend));
            await InvokerHost.ReadAsync(ok, 200);

            using var leafAlone = Client(null, PartnerLeaf);
            using var refused = await leafAlone.SendAsync(Invoke(backend));
            var problem = await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated);
            Assert.Contains("Invoker:Callers:CertificateAuthority", problem.GetProperty("detail").GetString());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_forwarded_leaf_chains_when_the_ca_setting_holds_the_intermediate_too()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();

        await using (var rootOnly = await InvokerHost.StartAsync(Settings(files, backend.Port, forwarded: true, Pki.RootPublic)))
        {
            using var refused = await rootOnly.Client.SendAsync(Invoke(backend, PartnerLeaf));
            await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated);
        }
        await using var withIntermediate = await InvokerHost.StartAsync(Settings(files, backend.Port, forwarded: true, Pki.RootPublic, Pki.IntermediatePublic));
        using var ok = await withIntermediate.Client.SendAsync(Invoke(backend, PartnerLeaf));
        await InvokerHost.ReadAsync(ok, 200);
    }

    [Fact]
    public async Task A_valid_but_unlisted_certificate_is_refused_naming_what_to_list()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(Settings(files, backend.Port, forwarded: true, Pki.RootPublic, Pki.IntermediatePublic));

        using var refused = await host.Client.SendAsync(Invoke(backend, Unlisted));

        var detail = (await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated)).GetProperty("detail").GetString();
        Assert.Contains("Subject 'CN=stranger-bot'", detail);
        Assert.Contains(Convert.ToHexString(SHA256.HashData(Unlisted.RawData)), detail);
    }
}
