using ServiceNodeInvoker.Tests.Transport;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Security;

/// <summary>
/// A run that uses every kind of secret, on success and failure paths, with logging at Trace:
/// none of the secrets appears in any log line or error reply.
/// </summary>
public sealed class NoLeakTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Fact]
    public async Task No_secret_reaches_the_logs_or_the_error_replies()
    {
        await using var backend = await Pki.StartBackendAsync(app => app.MapPost("/cookie", async (HttpContext c) =>
        {
            c.Response.Headers.SetCookie = "sid=set-cookie-secret-000; HttpOnly";
            await c.Response.WriteAsync("response-secret-bbb");
        }));
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        // A PEM profile: its private key must never be logged.
        var keyPath = files.KeyPem("pem.key", Pki.ClientEc, "pkcs8");
        var keyMarker = File.ReadAllLines(keyPath)[1];
        settings["Invoker:Profiles:pem:Hosts:0"] = "pem.example:443";
        settings["Invoker:Profiles:pem:ClientCertificate:Source"] = "Pem";
        settings["Invoker:Profiles:pem:ClientCertificate:CertificatePath"] = files.CertificatePem("pem.crt", Pki.ClientEc);
        settings["Invoker:Profiles:pem:ClientCertificate:KeyPath"] = keyPath;
        // A profile whose PFX password is wrong: the failure is logged, the passwords are not.
        settings["Invoker:Profiles:broken:Hosts:0"] = "broken.example:443";
        settings["Invoker:Profiles:broken:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:broken:ClientCertificate:Path"] = files.Pfx("broken.pfx", "real-pfx-pass-eee", Pki.ClientRsa);
        settings["Invoker:Profiles:broken:ClientCertificate:Password"] = "wrong-pass-secret-ccc";
        // Names resolve only to loopback here: no lookup leaves the machine.
        await using var host = await InvokerHost.StartAsync(settings,
            b => b.Services.AddSingleton<ServiceNodeInvoker.Transport.HostResolver>(new LoopbackOnlyResolver()));
        var replies = new StringBuilder();

        async Task SendAsync(HttpClient client, string path, object request)
        {
            using var response = await client.PostAsJsonAsync(path, request);
            replies.AppendLine(await response.Content.ReadAsStringAsync());
        }

        var secretHeaders = new Dictionary<string, string>
        {
            ["Authorization"] = "Bearer secret-bearer-token-123",
            ["Proxy-Authorization"] = "Basic proxy-secret-456",
            ["Cookie"] = "session=cookie-secret-789",
        };
        await SendAsync(host.Client, "/api/invoke", new { method = "POST", url = $"{backend.BaseAddress}cookie", headers = secretHeaders, body = "body-secret-aaa" });
        await SendAsync(host.Client, "/api/invoke", new { method = "POST", url = $"{backend.BaseAddress}cookie", headers = secretHeaders, body = "body-secret-aaa", response = "passthrough" });
        await SendAsync(host.Client, "/api/invoke", new { method = "GET", url = "https://broken.example/", headers = secretHeaders });
        await SendAsync(host.Client, "/api/invoke", new { method = "GET", url = "https://pem.example:443/", headers = secretHeaders, body = "body-secret-aaa" });
        await SendAsync(host.Client, "/api/invoke", new { method = "GET", url = "https://unowned.example/", headers = secretHeaders });
        await SendAsync(host.Client, "/api/invoke", new { method = "GET", url = $"{backend.BaseAddress}echo", headers = new Dictionary<string, string> { ["Authorization"] = "Bearer secret-bearer-token-123\r\n" } });
        using var byQuery = new HttpClient { BaseAddress = host.Client.BaseAddress };
        await SendAsync(byQuery, $"/api/invoke?code={InvokerHost.ApiKey}", new { method = "GET", url = $"{backend.BaseAddress}echo" });
        byQuery.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, "wrong-key-secret-ddd");
        await SendAsync(byQuery, "/api/invoke", new { method = "GET", url = $"{backend.BaseAddress}echo" });
        await SendAsync(byQuery, "/api/invoke?code=wrong-key-secret-ddd", new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var logs = host.Logs.All;
        Assert.Contains("Invoked profile payments", logs); // the run did log: the check below is not vacuous
        Assert.Contains("broken.pfx", logs);
        string[] secrets =
        [
            ProfileSettings.Password, "real-pfx-pass-eee", "wrong-pass-secret-ccc", InvokerHost.ApiKey, "wrong-key-secret-ddd",
            "secret-bearer-token-123", "proxy-secret-456", "cookie-secret-789", "set-cookie-secret-000",
            "body-secret-aaa", "response-secret-bbb", keyMarker, "PRIVATE KEY",
        ];
        foreach (var secret in secrets)
        {
            Assert.False(logs.Contains(secret, StringComparison.Ordinal), $"the logs hold '{secret}'");
        }
        var errorReplies = string.Join('\n', replies.ToString().Split('\n').Where(l => l.Contains("\"code\":", StringComparison.Ordinal)));
        Assert.NotEmpty(errorReplies);
        foreach (var secret in secrets)
        {
            Assert.False(errorReplies.Contains(secret, StringComparison.Ordinal), $"an error reply holds '{secret}'");
        }
    }
}
