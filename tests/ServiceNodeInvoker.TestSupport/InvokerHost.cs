using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Standalone;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>The standalone host on a loopback port, configured from a dictionary, with a keyed client.</summary>
public sealed class InvokerHost : IAsyncDisposable
{
    public const string ApiKey = "test-key-0123456789";

    /// <summary>The admin key <see cref="WithAdminKey"/> configures, for the probe.</summary>
    public const string AdminKey = "admin-key-0123456789";

    /// <summary>Adds <see cref="AdminKey"/> as the admin key 'ops'.</summary>
    public static Dictionary<string, string?> WithAdminKey(Dictionary<string, string?> settings)
    {
        settings["Invoker:Callers:AdminKeys:ops"] = ApiKeyAuthenticator.HashKey(AdminKey);
        return settings;
    }

    /// <summary>
    /// The standalone host on an HTTPS loopback listener (the test server certificate with its intermediate), for
    /// tests that present caller certificates on the TLS handshake. The caller stops and disposes it.
    /// </summary>
    public static async Task<WebApplication> StartHttpsAsync(Dictionary<string, string?> settings, TempFiles files)
    {
        settings["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0";
        settings["Kestrel:Endpoints:Https:Certificate:Path"] = files.Pfx("invoker-server.pfx", "server-pass", TestPki.Instance.Server, TestPki.Instance.IntermediatePublic);
        settings["Kestrel:Endpoints:Https:Certificate:Password"] = "server-pass";
        var app = StandaloneApp.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(settings);
            b.Logging.ClearProviders();
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>Runs the probe of <paramref name="profile"/> with <see cref="AdminKey"/>; the whole report.</summary>
    public async Task<JsonElement> ProbeAsync(string profile = "payments")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/profiles/{profile}/probe");
        request.Headers.Add(ApiKeyAuthenticator.HeaderName, AdminKey);
        using var client = new HttpClient { BaseAddress = Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        using var response = await client.SendAsync(request);
        return await ReadAsync(response, 200);
    }

    /// <summary>A profile's health entry once <paramref name="ready"/> accepts it (certificates load in the background), or the last one read.</summary>
    public Task<JsonElement> ProfileHealthAsync(Func<JsonElement, bool> ready, string profile = "payments") =>
        Poll.LatestAsync(async () => (await HealthAsync()).GetProperty("profiles").GetProperty(profile), ready);

    public async Task<JsonElement> HealthAsync()
    {
        using var response = await Client.GetAsync("/api/health");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private InvokerHost(WebApplication app, LogSink logs)
    {
        App = app;
        Logs = logs;
        // Like a bot's client seeing a passthrough 3xx: it must not be followed here either.
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, ApiKey);
    }

    public WebApplication App { get; }
    public HttpClient Client { get; }
    public LogSink Logs { get; }
    public IServiceProvider Services => App.Services;

    public static async Task<InvokerHost> StartAsync(IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null)
    {
        var logs = new LogSink();
        var all = new Dictionary<string, string?>(settings)
        {
            ["Invoker:AllowLoopback"] = settings.TryGetValue("Invoker:AllowLoopback", out var loopback) ? loopback : "true",
            ["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(ApiKey),
        };
        var app = StandaloneApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(all);
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        return new InvokerHost(app, logs);
    }

    public Task<HttpResponseMessage> InvokeAsync(object request) => Client.PostAsJsonAsync("/api/invoke", request);

    public Task<HttpResponseMessage> InvokeRawAsync(string json) =>
        Client.PostAsync("/api/invoke", new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task<JsonElement> InvokeJsonAsync(object request, int expectedStatus = 200)
    {
        using var response = await InvokeAsync(request);
        return await ReadAsync(response, expectedStatus);
    }

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expectedStatus, $"expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts a problem+json reply with the code, and returns it.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, int status, string code)
    {
        var problem = await ReadAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        // Every invoker problem, on every route, is marked so it can be told from a backend's own answer.
        Assert.Equal(code, Assert.Single(response.Headers.GetValues(ServiceNodeInvoker.Contract.InvokerHeaders.Error)));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        return problem;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
