using System.Net.Sockets;
using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Probe;

/// <summary>Errors, health and the probe name the real cause, the way an operator needs to read it.</summary>
public sealed class DiagnosticsTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>The probe's report of the profile's first host (admin key from <see cref="InvokerHost.WithAdminKey"/>).</summary>
    private static async Task<JsonElement> ProbeAsync(InvokerHost host, string profile) => (await host.ProbeAsync(profile)).GetProperty("hosts")[0];

    private static Dictionary<string, string?> WithAdmin(Dictionary<string, string?> settings) => InvokerHost.WithAdminKey(settings);

    [Fact]
    public async Task A_trusted_ca_file_that_is_no_certificate_is_reported_as_the_trusted_ca()
    {
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("plain", 443, pfxPath: null, trustedCaPath: files.Text("ca.pem", "this is not a certificate")).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        using var call = await host.InvokeAsync(new { method = "GET", url = "https://localhost/" });

        var problem = await InvokerHost.AssertProblemAsync(call, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains("trusted CA from file 'ca.pem' could not be loaded", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("client certificate", problem.GetProperty("title").GetString());
        var health = await host.ProfileHealthAsync(profile: "plain", ready: h => h.GetProperty("lastError").ValueKind == JsonValueKind.String);
        Assert.False(health.GetProperty("trustedCa").GetProperty("loaded").GetBoolean());
        Assert.False(health.GetProperty("certificate").GetProperty("configured").GetBoolean());
        Assert.Contains("trusted CA", health.GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task A_pem_certificate_file_without_a_certificate_says_so_not_that_the_key_does_not_match()
    {
        using var files = new TempFiles();
        var settings = new ProfileSettings()
            .Set("pem", "Hosts:0", "localhost")
            .Set("pem", "ClientCertificate:Source", "Pem")
            .Set("pem", "ClientCertificate:CertificatePath", files.Text("leaf.pem", "\n"))
            .Set("pem", "ClientCertificate:ChainPath", files.CertificatePem("chain.pem", Pki.IntermediatePublic))
            .Set("pem", "ClientCertificate:KeyPath", files.KeyPem("leaf.key", Pki.ClientRsa, "pkcs8")).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        using var call = await host.InvokeAsync(new { method = "GET", url = "https://localhost/" });

        var detail = (await InvokerHost.AssertProblemAsync(call, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString();
        Assert.Contains("'leaf.pem' (CertificatePath) holds no CERTIFICATE block", detail);
    }

    [Fact]
    public async Task A_pkcs8_ec_key_loads_even_with_an_rsa_intermediate_listed_first()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = new ProfileSettings()
            .Set("ec", "Hosts:0", $"localhost:{backend.Port}")
            .Set("ec", "ClientCertificate:Source", "Pem")
            .Set("ec", "ClientCertificate:CertificatePath", files.CertificatePem("ec.pem", Pki.IntermediatePublic, Pki.ClientEc))
            .Set("ec", "ClientCertificate:KeyPath", files.KeyPem("ec.key", Pki.ClientEc, "pkcs8"))
            .Set("ec", "TrustedCa:Source", "File")
            .Set("ec", "TrustedCa:Path", files.CertificatePem("root.pem", Pki.RootPublic)).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal("CN=bot-client-ec", reply.GetProperty("body").GetProperty("clientCertificate").GetString());
    }

    [Theory]
    [InlineData("/echo")]
    [InlineData("echo")]
    [InlineData("//localhost/echo")]
    public async Task A_relative_url_is_a_400_not_a_file_scheme_403(string url)
    {
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, 443).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url });

        var problem = await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
        Assert.Equal("url", problem.GetProperty("field").GetString());
        Assert.DoesNotContain("file", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_timeout_out_of_range_says_what_the_range_is()
    {
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, 443).Settings);

        using var response = await host.InvokeRawAsync("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"timeoutSeconds\":1e308}");

        var detail = (await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest)).GetProperty("detail").GetString();
        Assert.Contains("more than 0 and at most 86400", detail);
    }

    [Fact]
    public async Task A_certificate_that_expired_a_day_ago_is_counted_the_same_way_in_log_and_health()
    {
        using var files = new TempFiles();
        var expired = Pki.Intermediate.IssueClient("expired-bot", notAfter: DateTimeOffset.UtcNow.AddDays(-1).AddHours(-2));
        var settings = ProfileSettings.Standard(files, 443, client: expired).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        var health = await host.ProfileHealthAsync(profile: "payments", ready: h => h.GetProperty("certificate").TryGetProperty("daysLeft", out _));

        Assert.Equal(-1, health.GetProperty("certificate").GetProperty("daysLeft").GetInt32());
        Assert.Contains("the client certificate expired 1 day ago", health.GetProperty("reasons").ToString());
        // Health shows the certificate as soon as the load stores it; the store's warning (1006) is written after that, and the
        // expiry watch's lines (1010, an error, saying "expired 1 day ago" too) come on their own schedule: wait for each by its id.
        await Poll.UntilAsync(() => host.Logs.Entries.Any(e => e.EventId.Id == 1006), "the store's expiry warning (1006)");
        await Poll.UntilAsync(() => host.Logs.Entries.Any(e => e.EventId.Id == 1012), "the expiry watch's run (1012)");
        var warning = Assert.Single(host.Logs.Entries, e => e.EventId.Id == 1006);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("expired 1 day ago", warning.Message);
        Assert.DoesNotContain(host.Logs.Lines, l => l.Contains("-2 days", StringComparison.Ordinal) || l.Contains("(null)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_key_vault_is_named_with_what_failed_and_what_to_check()
    {
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there now
        var settings = new ProfileSettings()
            .Set("kv", "Hosts:0", "localhost")
            .Set("kv", "ClientCertificate:Source", "KeyVault")
            .Set("kv", "ClientCertificate:VaultUri", $"https://127.0.0.1:{port}/")
            .Set("kv", "ClientCertificate:Name", "bot-client").Settings;
        var options = new SecretClientOptions { DisableChallengeResourceVerification = true };
        options.Retry.MaxRetries = 1;
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        await using var host = await InvokerHost.StartAsync(settings, builder =>
        {
            builder.Services.AddSingleton<TokenCredential>(new StaticTokenCredential());
            builder.Services.AddSingleton(options);
            var certificates = new Azure.Security.KeyVault.Certificates.CertificateClientOptions { DisableChallengeResourceVerification = true };
            certificates.Retry.MaxRetries = 1;
            certificates.Retry.Delay = TimeSpan.FromMilliseconds(10);
            builder.Services.AddSingleton(certificates);
        });

        var health = await host.ProfileHealthAsync(profile: "kv", ready: h => h.GetProperty("lastError").ValueKind == JsonValueKind.String);
        using var call = await host.InvokeAsync(new { method = "GET", url = "https://localhost/" });
        var detail = (await InvokerHost.AssertProblemAsync(call, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;

        foreach (var text in new[] { health.GetProperty("lastError").GetString()!, detail })
        {
            Assert.Contains($"Key Vault 127.0.0.1 could not be reached: connection refused", text);
            Assert.Contains("Check firewalls", text);
            Assert.DoesNotContain("AggregateException", text);
        }
    }

    [Fact]
    public async Task The_probe_says_our_certificate_is_missing_not_that_the_backend_is_untrusted()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("payments", backend.Port, Path.Combine(files.Directory, "gone.pfx"),
            files.CertificatePem("root.pem", Pki.RootPublic)).Settings;
        await using var host = await InvokerHost.StartAsync(WithAdmin(settings));

        var report = await ProbeAsync(host, "payments");

        var summary = report.GetProperty("summary").GetString()!;
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Contains("ours could not be loaded", summary);
        Assert.Contains("'gone.pfx' does not exist", summary);
        Assert.DoesNotContain("TrustedCa", summary);
        Assert.True(report.GetProperty("tls").GetProperty("serverCertificateValid").GetBoolean());
        Assert.Single(report.GetProperty("connect").GetProperty("addresses").EnumerateArray());
    }

    [Fact]
    public async Task The_probe_does_not_call_a_rejected_server_certificate_ok()
    {
        await using var scenario = await Scenario.Standard().Backend(pki => pki.StartBackendAsync(server: pki.UntrustedServer)).WithAdminKey().StartAsync();
        var (backend, host) = scenario;

        var tls = (await ProbeAsync(host, "payments")).GetProperty("tls");

        Assert.False(tls.GetProperty("serverCertificateValid").GetBoolean());
        Assert.False(tls.GetProperty("ok").GetBoolean());
        Assert.True(tls.GetProperty("handshakeCompleted").GetBoolean());
    }
}
