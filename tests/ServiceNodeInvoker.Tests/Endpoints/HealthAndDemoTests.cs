using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>GET /api/health, and the --demo a newcomer runs first.</summary>
public sealed class HealthAndDemoTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Fact]
    public async Task Health_shows_the_certificate_loaded_at_start_up_before_any_invocation()
    {
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, 443).Settings);

        var profile = await host.ProfileHealthAsync(h => h.GetProperty("status").GetString() == "healthy");

        var certificate = profile.GetProperty("certificate");
        Assert.True(certificate.GetProperty("loaded").GetBoolean());
        Assert.Equal("CN=bot-client-rsa", certificate.GetProperty("subject").GetString());
        Assert.Equal(64, certificate.GetProperty("thumbprintSha256").GetString()!.Length);
        Assert.True(certificate.GetProperty("daysLeft").GetDouble() > 300);
        Assert.Equal(JsonValueKind.Null, certificate.GetProperty("lastError").ValueKind);
        Assert.Contains("localhost:443", profile.GetProperty("hosts").ToString());
    }

    [Fact]
    public async Task Health_is_degraded_inside_the_expiry_warning_window()
    {
        using var files = new TempFiles();
        var soon = Pki.Intermediate.IssueClient("expiring-client", notAfter: DateTimeOffset.UtcNow.AddDays(10));
        var settings = ProfileSettings.Standard(files, 443, client: soon).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        var profile = await host.ProfileHealthAsync(h => h.GetProperty("status").GetString() != "unhealthy");

        Assert.Equal("degraded", profile.GetProperty("status").GetString());
        Assert.Contains("expires in 9 days", profile.GetProperty("reasons").ToString());
    }

    [Fact]
    public async Task Demo_answers_its_own_curl_line_with_a_200_envelope_from_the_mtls_backend()
    {
        await using var demo = await DemoEnvironment.StartAsync(["--demo", "--urls", "http://127.0.0.1:0"]);

        Assert.Contains(demo.ApiKey, demo.CurlCommand);
        Assert.Contains(demo.RequestJson, demo.CurlCommand);
        using var client = new HttpClient { BaseAddress = demo.InvokerAddress };
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, demo.ApiKey);
        using var response = await client.PostAsync("/api/invoke", new StringContent(demo.RequestJson, Encoding.UTF8, "application/json"));

        var envelope = await InvokerHost.ReadAsync(response, 200);
        Assert.Equal(200, envelope.GetProperty("status").GetInt32());
        var body = envelope.GetProperty("body");
        Assert.Equal("CN=bot-client", body.GetProperty("clientCertificate").GetString());
        Assert.True(body.GetProperty("clientChainVerified").GetBoolean());
        Assert.Contains("CN=Demo Intermediate CA", body.GetProperty("clientChain").ToString());
        Assert.Equal("demo", envelope.GetProperty("profile").GetString());
    }

    [Fact]
    public async Task Demo_prints_working_health_and_probe_lines_with_its_own_keys()
    {
        await using var demo = await DemoEnvironment.StartAsync(["--demo", "--urls", "http://127.0.0.1:0"]);
        using var client = new HttpClient { BaseAddress = demo.InvokerAddress };

        Assert.Contains(demo.ApiKey, demo.HealthCurlCommand);
        Assert.Contains(demo.AdminKey, demo.ProbeCurlCommand);
        Assert.Matches("^[0-9a-f]+$", demo.ApiKey); // safe in ?code= without encoding
        using var probe = new HttpRequestMessage(HttpMethod.Post, "/api/profiles/demo/probe");
        probe.Headers.Add(ApiKeyAuthenticator.HeaderName, demo.AdminKey);
        using var probed = await client.SendAsync(probe);
        var report = await InvokerHost.ReadAsync(probed, 200);
        Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
        using var health = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        health.Headers.Add(ApiKeyAuthenticator.HeaderName, demo.AdminKey); // any key reads health
        using var healthy = await client.SendAsync(health);
        Assert.Equal(200, (int)healthy.StatusCode);
    }

    [Fact]
    public async Task A_demo_whose_settings_name_a_listener_listens_there_and_its_backend_reads_none_of_them()
    {
        using var files = new TempFiles();
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        // The invoker's listener, from its settings (here the environment). The demo's backend is a server of its own: it
        // binds its one loopback port and nothing of the invoker's settings (it bound this one too, so the demo refused to
        // start: "already in use").
        await using var demo = await StandaloneProcess.StartAsync(files.Directory,
            new Dictionary<string, string> { ["Kestrel__Endpoints__Extra__Url"] = $"http://127.0.0.1:{port}" }, "--demo");

        Assert.Equal(port, demo.BaseAddress.Port);
        using var client = demo.Client(null);
        using var health = await client.GetAsync("/api/health");
        await InvokerHost.AssertProblemAsync(health, 401, ErrorCodes.Unauthenticated); // the invoker answers there
    }

    [Fact]
    public async Task A_second_demo_on_a_taken_port_says_so_in_one_line_and_leaves_no_files()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var temp = Directory.CreateTempSubdirectory("sni-demo-tmp-").FullName;
        try
        {
            var outcome = await StandaloneProcess.RunAsync(new Dictionary<string, string> { ["TMPDIR"] = temp }, null,
                "--demo", "--urls", $"http://127.0.0.1:{port}");

            Assert.Equal(1, outcome.ExitCode);
            var line = Assert.Single(outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"127.0.0.1:{port}", line);
            Assert.Contains("already in use", line);
            Assert.DoesNotContain("   at ", outcome.Output);
            Assert.Empty(Directory.GetFileSystemEntries(temp)); // no certificate or key file left behind
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

}
