using System.Reflection;
using Azure.Core;
using Microsoft.Extensions.DependencyInjection;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>
/// What an operator reaches for: the effective configuration (every setting, its value or default,
/// the chain that is sent, never a secret or a folder), a certificate refresh on demand that picks up a
/// rotated file or a new vault version at once, a keyless liveness answer, and an HTTPS endpoint that
/// sends its intermediates to callers that trust only the root.
/// </summary>
public sealed class AdminEndpointsTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private const string CallerPassword = "pfx-secret-!77";

    private static async Task<HttpResponseMessage> AdminAsync(InvokerHost host, HttpMethod method, string path, string? key = InvokerHost.AdminKey)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add(ApiKeyAuthenticator.HeaderName, key);
        }
        using var client = new HttpClient { BaseAddress = host.Client.BaseAddress };
        return await client.SendAsync(request);
    }

    private static async Task<JsonElement> AdminJsonAsync(InvokerHost host, HttpMethod method, string path)
    {
        using var response = await AdminAsync(host, method, path);
        return await InvokerHost.ReadAsync(response, 200);
    }

    [Fact]
    public async Task The_effective_configuration_shows_every_setting_its_default_and_the_chain_but_no_secret()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port)
            .Set("payments", "Timeout", "12")
            .Set("payments", "ClientCertificate:Password", CallerPassword)
            .Settings;
        File.WriteAllBytes(settings["Invoker:Profiles:payments:ClientCertificate:Path"]!,
            new X509Certificate2Collection(new[] { Pki.ClientRsa, Pki.IntermediatePublic }).Export(X509ContentType.Pkcs12, CallerPassword)!);
        settings["Invoker:Profiles:vaulted:Hosts:0"] = "vault-backed.contoso.com";
        settings["Invoker:Profiles:vaulted:ClientCertificate:Source"] = "KeyVault";
        settings["Invoker:Profiles:vaulted:ClientCertificate:VaultUri"] = "https://my-vault.vault.azure.net/";
        settings["Invoker:Profiles:vaulted:ClientCertificate:Name"] = "vaulted-client";
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings));
        await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" }); // loaded now

        using var response = await AdminAsync(host, HttpMethod.Get, "/api/profiles");
        var text = await response.Content.ReadAsStringAsync();
        var view = JsonDocument.Parse(text).RootElement;
        Assert.Equal(200, (int)response.StatusCode);

        var payments = view.GetProperty("profiles").GetProperty("payments");
        var s = payments.GetProperty("settings");
        Assert.Equal(12, s.GetProperty("Timeout").GetProperty("value").GetDouble());
        Assert.False(s.GetProperty("Timeout").GetProperty("default").GetBoolean());
        Assert.Equal(TlsProfile.DefaultMaxResponseBytes, s.GetProperty("MaxResponseBytes").GetProperty("value").GetInt64());
        Assert.True(s.GetProperty("MaxResponseBytes").GetProperty("default").GetBoolean());
        Assert.Equal("none: forward mode is off", s.GetProperty("BaseUrl").GetProperty("meaning").GetString());
        var source = s.GetProperty("ClientCertificate").GetProperty("value");
        Assert.Equal("payments.pfx", source.GetProperty("file").GetString());
        Assert.Equal("(set)", source.GetProperty("password").GetString());
        var chain = payments.GetProperty("certificates").GetProperty("certificate").GetProperty("chain");
        Assert.Equal(["CN=bot-client-rsa", "CN=Test Intermediate CA"], chain.EnumerateArray().Select(c => c.GetProperty("subject").GetString()));
        Assert.Equal("CN=Test Root CA", payments.GetProperty("certificates").GetProperty("trustedCa").GetProperty("certificates")[0].GetProperty("subject").GetString());

        var vaulted = view.GetProperty("profiles").GetProperty("vaulted").GetProperty("settings").GetProperty("ClientCertificate").GetProperty("value");
        Assert.Equal("vaulted-client", vaulted.GetProperty("name").GetString());
        Assert.Equal("latest (follows rotation)", vaulted.GetProperty("version").GetString());

        Assert.Equal(["test-bot"], view.GetProperty("callers").GetProperty("ApiKeys").GetProperty("value").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal(3600, view.GetProperty("settings").GetProperty("CertificateRefreshInterval").GetProperty("value").GetDouble());
        // Nothing secret, no folder: not the password, not a key hash, not the temp folder.
        Assert.DoesNotContain(CallerPassword, text);
        Assert.DoesNotContain(ApiKeyAuthenticator.HashKey(InvokerHost.ApiKey), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(ApiKeyAuthenticator.HashKey(InvokerHost.AdminKey), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(files.Directory, text);
    }

    [Fact]
    public async Task Every_setting_of_the_options_model_appears_in_the_view()
    {
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(new ProfileSettings().Set("p", "Hosts:0", "p.contoso.com").Settings));
        var view = await AdminJsonAsync(host, HttpMethod.Get, "/api/profiles");

        static IEnumerable<string> Settable(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name);
        Assert.Equal(Settable(typeof(ProfileOptions)).Order(), view.GetProperty("profiles").GetProperty("p").GetProperty("settings").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(Settable(typeof(InvokerOptions)).Except(["Profiles", "Callers"]).Order(), view.GetProperty("settings").EnumerateObject().Select(p => p.Name).Order());
        Assert.Subset(view.GetProperty("callers").EnumerateObject().Select(p => p.Name).ToHashSet(), Settable(typeof(CallerOptions)).ToHashSet());
    }

    [Theory]
    [InlineData("GET", "/api/profiles")]
    [InlineData("POST", "/api/profiles/p/refresh")]
    public async Task The_admin_endpoints_refuse_a_caller_key_and_no_key(string method, string path)
    {
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(new ProfileSettings().Set("p", "Hosts:0", "p.contoso.com").Settings));

        using var withCallerKey = await AdminAsync(host, new HttpMethod(method), path, InvokerHost.ApiKey);
        await InvokerHost.AssertProblemAsync(withCallerKey, 403, ErrorCodes.Forbidden);
        using var withoutKey = await AdminAsync(host, new HttpMethod(method), path, key: null);
        await InvokerHost.AssertProblemAsync(withoutKey, 401, ErrorCodes.Unauthenticated);
        using var unknown = await AdminAsync(host, HttpMethod.Post, "/api/profiles/nosuch/refresh");
        await InvokerHost.AssertProblemAsync(unknown, 404, ErrorCodes.UnknownProfile);
    }

    [Fact]
    public async Task A_refresh_picks_up_a_rotated_file_at_once()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings));
        var first = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        Assert.Equal("CN=bot-client-rsa", first.GetProperty("body").GetProperty("clientCertificate").GetString());

        // Emergency rotation: the new certificate replaces the file; the hourly refresh is far away.
        var rotated = Pki.Intermediate.IssueClient("bot-client-rotated");
        File.WriteAllBytes(settings["Invoker:Profiles:payments:ClientCertificate:Path"]!,
            new X509Certificate2Collection(new[] { rotated, Pki.IntermediatePublic }).Export(X509ContentType.Pkcs12, ProfileSettings.Password)!);
        var refreshed = await AdminJsonAsync(host, HttpMethod.Post, "/api/profiles/payments/refresh");

        Assert.True(refreshed.GetProperty("refreshed").GetBoolean());
        Assert.True(refreshed.GetProperty("changed").GetBoolean());
        Assert.Equal("CN=bot-client-rotated", refreshed.GetProperty("state").GetProperty("certificate").GetProperty("subject").GetString());
        var after = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        Assert.Equal("CN=bot-client-rotated", after.GetProperty("body").GetProperty("clientCertificate").GetString());

        // Unchanged source: refreshed, not changed.
        var again = await AdminJsonAsync(host, HttpMethod.Post, "/api/profiles/payments/refresh");
        Assert.True(again.GetProperty("refreshed").GetBoolean());
        Assert.False(again.GetProperty("changed").GetBoolean());
    }

    [Fact]
    public async Task A_refresh_picks_up_a_new_vault_version_at_once_and_a_failed_one_keeps_the_last_good()
    {
        await using var backend = await Pki.StartBackendAsync();
        await using var vault = await KeyVaultFake.StartAsync();
        using var files = new TempFiles();
        var firstVersion = vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        var settings = new ProfileSettings()
            .Set("payments", "Hosts:0", $"localhost:{backend.Port}")
            .Set("payments", "ClientCertificate:Source", "KeyVault")
            .Set("payments", "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set("payments", "ClientCertificate:Name", "bot-client")
            .Set("payments", "TrustedCa:Source", "File")
            .Set("payments", "TrustedCa:Path", files.CertificatePem("root.pem", Pki.RootPublic)).Settings;
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings), builder =>
        {
            builder.Services.AddSingleton<TokenCredential>(new StaticTokenCredential());
            vault.Register(builder.Services);
        });
        await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var newVersion = vault.SetPkcs12("bot-client", Pki.Intermediate.IssueClient("bot-client-v2"), Pki.IntermediatePublic);
        var refreshed = await AdminJsonAsync(host, HttpMethod.Post, "/api/profiles/payments/refresh");
        Assert.True(refreshed.GetProperty("changed").GetBoolean());
        Assert.Equal(newVersion, refreshed.GetProperty("state").GetProperty("certificate").GetProperty("version").GetString());
        Assert.NotEqual(firstVersion, newVersion);
        var after = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        Assert.Equal("CN=bot-client-v2", after.GetProperty("body").GetProperty("clientCertificate").GetString());

        vault.Behaviour = VaultBehaviour.Down;
        var failed = await AdminJsonAsync(host, HttpMethod.Post, "/api/profiles/payments/refresh");
        Assert.False(failed.GetProperty("refreshed").GetBoolean());
        Assert.False(string.IsNullOrEmpty(failed.GetProperty("error").GetString()));
        Assert.Equal("CN=bot-client-v2", failed.GetProperty("state").GetProperty("certificate").GetProperty("subject").GetString());
    }

    [Fact]
    public async Task Liveness_needs_no_key_and_says_only_up_even_when_a_profile_is_broken()
    {
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("payments", 443, Path.Combine(files.Directory, "missing.pfx"), null).Settings;
        await using var host = await InvokerHost.StartAsync(settings);
        using var client = new HttpClient { BaseAddress = host.Client.BaseAddress };

        using var live = await client.GetAsync("/api/live");
        Assert.Equal(200, (int)live.StatusCode);
        Assert.Equal("{\"status\":\"up\"}", await live.Content.ReadAsStringAsync());
        using var health = await client.GetAsync("/api/health");
        Assert.Equal(401, (int)health.StatusCode); // health itself still needs a key
    }

    [Fact]
    public async Task The_https_endpoint_sends_its_intermediate_to_a_caller_that_trusts_only_the_root()
    {
        using var files = new TempFiles();
        var settings = new ProfileSettings().Set("p", "Hosts:0", "p.contoso.com").Settings;
        settings["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0";
        settings["Kestrel:Endpoints:Https:Certificate:Path"] = files.Pfx("invoker-server.pfx", "server-pass", Pki.Server, Pki.IntermediatePublic);
        settings["Kestrel:Endpoints:Https:Certificate:Password"] = "server-pass";
        await using var host = await InvokerHost.StartAsync(settings);
        var https = new Uri(host.App.Urls.Single(u => u.StartsWith("https", StringComparison.Ordinal)));

        var sent = new List<string>();
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
        {
            sent.AddRange(chain!.ChainPolicy.ExtraStore.Select(c => c.Subject)); // what the server sent
            using var ours = new X509Chain();
            ours.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            ours.ChainPolicy.CustomTrustStore.Add(Pki.RootPublic); // the root only: the intermediate must come from the server
            ours.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            ours.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return ours.Build((X509Certificate2)certificate!);
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{https.Port}") };
        using var live = await client.GetAsync("/api/live");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Contains("CN=Test Intermediate CA", sent);
    }
}
