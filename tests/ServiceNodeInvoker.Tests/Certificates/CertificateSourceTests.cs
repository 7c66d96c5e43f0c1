
namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>File and PEM certificate sources, good and bad, end to end against the mTLS backend.</summary>
public sealed class CertificateSourceTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Theory]
    [InlineData(KeyKind.Rsa)]
    [InlineData(KeyKind.Ecdsa)]
    public async Task Pfx_source_works(KeyKind kind)
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var client = kind == KeyKind.Rsa ? Pki.ClientRsa : Pki.ClientEc;
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port, client: client).Settings);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal(client.Subject, reply.GetProperty("body").GetProperty("clientCertificate").GetString());
    }

    [Theory]
    [InlineData(KeyKind.Rsa, "pkcs8", false)]
    [InlineData(KeyKind.Rsa, "pkcs1", false)]
    [InlineData(KeyKind.Ecdsa, "sec1", false)]
    [InlineData(KeyKind.Ecdsa, "pkcs8", true)]
    [InlineData(KeyKind.Rsa, "encrypted", true)]
    public async Task Pem_source_works(KeyKind kind, string keyForm, bool separateChainFile)
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var client = kind == KeyKind.Rsa ? Pki.ClientRsa : Pki.ClientEc;
        var profile = PemProfile(files, backend.Port, client, keyForm, separateChainFile);
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal(client.Subject, reply.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.Contains("CN=Test Intermediate CA", reply.GetProperty("body").GetProperty("clientChain").ToString());
    }

    [Fact]
    public async Task Pem_key_that_does_not_match_the_certificate_gives_503_and_degrades_health()
    {
        using var files = new TempFiles();
        var profile = new ProfileSettings()
            .Set("pem", "Hosts:0", "localhost:1")
            .Set("pem", "ClientCertificate:Source", "Pem")
            .Set("pem", "ClientCertificate:CertificatePath", files.CertificatePem("cert.pem", Pki.ClientRsa))
            .Set("pem", "ClientCertificate:KeyPath", files.KeyPem("other.key", Pki.OtherClient, "pkcs8"));
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("belongs to none of the 1 certificate(s)", problem.GetProperty("detail").GetString());
        var health = await InvokerHost.ReadAsync(await host.Client.GetAsync("/api/health"), 503);
        Assert.Contains("belongs to none", health.GetProperty("profiles").GetProperty("pem").GetProperty("certificate").GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task Pfx_with_a_wrong_password_gives_503_without_revealing_either_password()
    {
        using var files = new TempFiles();
        var pfx = files.Pfx("client.pfx", "the-real-password", Pki.ClientRsa);
        var profile = new ProfileSettings().Add("payments", 1, pfx, null);
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("password is wrong", problem.GetProperty("detail").GetString());
        Assert.Contains("client.pfx", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain(ProfileSettings.Password, problem.ToString());
        Assert.DoesNotContain(ProfileSettings.Password, host.Logs.All);
        Assert.DoesNotContain("the-real-password", host.Logs.All);
    }

    [Fact]
    public async Task Missing_file_gives_503_naming_the_file()
    {
        using var files = new TempFiles();
        var profile = new ProfileSettings().Add("payments", 1, Path.Combine(files.Directory, "absent.pfx"), null);
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("absent.pfx' does not exist", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Pfx_without_a_private_key_gives_503()
    {
        using var files = new TempFiles();
        var publicOnly = X509CertificateLoader.LoadCertificate(Pki.ClientRsa.RawData);
        var profile = new ProfileSettings().Add("payments", 1, files.Pfx("nokey.pfx", ProfileSettings.Password, publicOnly), null);
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("no certificate with a private key", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Expired_certificate_gives_503()
    {
        using var files = new TempFiles();
        var expired = Pki.Intermediate.IssueClient("expired-client", notAfter: DateTimeOffset.UtcNow.AddMinutes(-5));
        var profile = new ProfileSettings().Add("payments", 1, files.Pfx("expired.pfx", ProfileSettings.Password, expired), null);
        await using var host = await InvokerHost.StartAsync(profile.Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("expired on", problem.GetProperty("detail").GetString());
    }

    private static ProfileSettings PemProfile(TempFiles files, int port, X509Certificate2 client, string keyForm, bool separateChainFile)
    {
        var profile = new ProfileSettings()
            .Set("pem", "Hosts:0", $"localhost:{port}")
            .Set("pem", "ClientCertificate:Source", "Pem")
            .Set("pem", "ClientCertificate:KeyPath", files.KeyPem("client.key", client, keyForm, keyForm == "encrypted" ? "key-pass" : null))
            .Set("pem", "TrustedCa:Source", "Pem")
            .Set("pem", "TrustedCa:CertificatePath", files.CertificatePem("root.pem", Pki.RootPublic));
        if (keyForm == "encrypted")
        {
            profile.Set("pem", "ClientCertificate:Password", "key-pass");
        }
        if (separateChainFile)
        {
            profile.Set("pem", "ClientCertificate:CertificatePath", files.CertificatePem("client.pem", client))
                   .Set("pem", "ClientCertificate:ChainPath", files.CertificatePem("chain.pem", Pki.IntermediatePublic));
        }
        else
        {
            profile.Set("pem", "ClientCertificate:CertificatePath", files.CertificatePem("fullchain.pem", client, Pki.IntermediatePublic));
        }
        return profile;
    }
}
