using System.Text;
using System.Text.Json;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Tests.Infrastructure;

namespace ServiceNodeInvoker.Tests;

/// <summary>GET /api/health, and the --demo a newcomer runs first.</summary>
public sealed class HealthAndDemoTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Fact]
    public async Task Health_shows_the_certificate_loaded_at_start_up_before_any_invocation()
    {
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, 443).Settings);

        var profile = await PollHealthAsync(host, h => h.GetProperty("status").GetString() == "healthy");

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

        var profile = await PollHealthAsync(host, h => h.GetProperty("status").GetString() != "unhealthy");

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

    private static async Task<JsonElement> PollHealthAsync(InvokerHost host, Func<JsonElement, bool> done, string profile = "payments")
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var response = await host.Client.GetAsync("/api/health");
            var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            var entry = health.GetProperty("profiles").GetProperty(profile);
            if (done(entry) || DateTime.UtcNow > deadline)
            {
                return entry;
            }
            await Task.Delay(20); // poll interval, bounded by the deadline above
        }
    }
}
