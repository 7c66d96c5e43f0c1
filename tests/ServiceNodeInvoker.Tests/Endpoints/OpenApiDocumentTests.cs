using Microsoft.Extensions.DependencyInjection;
using System.Reflection;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>
/// docs/openapi.json against the running host: every documented code, field, method and header is one
/// the host uses, and every one the host uses is documented.
/// </summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private static readonly TestPki Pki = TestPki.Instance;
    private readonly TempFiles _files = new();
    private readonly BackendRoutes _routes = new();
    private MutualTlsBackend _backend = null!;
    private InvokerHost _host = null!;
    internal static readonly JsonElement Document = Load();

    private static JsonElement Load()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, "docs", "openapi.json");
            if (File.Exists(file))
            {
                return JsonDocument.Parse(File.ReadAllText(file)).RootElement.Clone();
            }
        }
        throw new FileNotFoundException("docs/openapi.json not found above the test binaries");
    }

    private static JsonElement Schema(string name) => Document.GetProperty("components").GetProperty("schemas").GetProperty(name);

    private static HashSet<string> Properties(JsonElement schema) => schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();

    /// <summary>Documented properties that always appear (not marked x-when).</summary>
    private static HashSet<string> Always(JsonElement schema) =>
        schema.GetProperty("properties").EnumerateObject().Where(p => !p.Value.TryGetProperty("x-when", out _)).Select(p => p.Name).ToHashSet();

    private static HashSet<string> Keys(JsonElement element) => element.EnumerateObject().Select(p => p.Name).ToHashSet();

    public async Task InitializeAsync()
    {
        _backend = await Pki.StartBackendAsync(_routes.Map);
        _host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(_files, _backend.Port)
            .Set("payments", "BaseUrl", _backend.BaseAddress.ToString()).Settings));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _backend.DisposeAsync();
        _files.Dispose();
    }

    [Fact]
    public void The_error_codes_and_their_statuses_are_exactly_the_hosts()
    {
        var codes = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();
        var code = Schema("ErrorCode");
        Assert.Equal(codes.Order(), code.GetProperty("enum").EnumerateArray().Select(e => e.GetString()!).Order());
        foreach (var entry in code.GetProperty("x-status").EnumerateObject())
        {
            Assert.Equal(ErrorCodes.StatusOf(entry.Name), entry.Value.GetInt32());
        }
        // Each operation documents exactly the statuses its codes can give.
        var statuses = codes.Select(c => ErrorCodes.StatusOf(c).ToString()).ToHashSet();
        var paths = Document.GetProperty("paths");
        Assert.Equal(statuses.Append("200").Order(), Keys(paths.GetProperty("/api/invoke").GetProperty("post").GetProperty("responses")).Order());
        foreach (var path in new[] { "/api/forward/{profile}/{path}", "/api/forward/{profile}" })
        {
            foreach (var operation in paths.GetProperty(path).EnumerateObject().Where(o => o.Name != "parameters"))
            {
                Assert.Equal(statuses.Append("default").Order(), Keys(operation.Value.GetProperty("responses")).Order());
            }
        }
    }

    [Fact]
    public void The_causes_are_exactly_the_classifiers()
    {
        var causes = typeof(FailureCauses).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!);
        var documented = Schema("Problem").GetProperty("properties").GetProperty("cause").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!);
        Assert.Equal(causes.Order(), documented.Order());
    }

    [Fact]
    public void Every_route_of_the_host_is_documented_and_every_documented_path_is_served()
    {
        var served = new HashSet<string>();
        foreach (var endpoint in _host.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints.OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>())
        {
            var methods = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? [];
            var pattern = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            foreach (var path in pattern.Contains("{**path}", StringComparison.Ordinal)
                ? [pattern.Replace("{**path}", "{path}", StringComparison.Ordinal), pattern.Replace("/{**path}", "", StringComparison.Ordinal)]
                : new[] { pattern })
            {
                foreach (var method in methods)
                {
                    served.Add($"{method.ToUpperInvariant()} {path}");
                }
            }
        }
        var documented = Document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name != "parameters").Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}")).ToHashSet();
        Assert.Equal(documented.Order(), served.Order());
    }

    [Fact]
    public async Task The_admin_endpoints_hold_the_documented_fields()
    {
        await _host.InvokeJsonAsync(new { method = "GET", url = $"{_backend.BaseAddress}json" }); // the certificate is loaded now
        var view = await AdminAsync(HttpMethod.Get, "/api/profiles");
        Assert.Subset(Keys(view), Always(Schema("ConfigurationView")));
        var profile = view.GetProperty("profiles").GetProperty("payments");
        var settingSchema = Schema("Setting");
        foreach (var setting in profile.GetProperty("settings").EnumerateObject())
        {
            Assert.Subset(Properties(settingSchema), Keys(setting.Value));
            Assert.Subset(Keys(setting.Value), Always(settingSchema));
        }
        Assert.Equal(Always(Schema("ConfigurationState")).Order(), Keys(view.GetProperty("configuration")).Order());
        var reload = await AdminAsync(HttpMethod.Post, "/api/configuration/reload");
        Assert.Equal(Always(Schema("Reload")).Order(), Keys(reload).Order());
        Assert.Equal(Properties(Schema("Reload").GetProperty("properties").GetProperty("live")).Order(), Keys(reload.GetProperty("live")).Order());
        Assert.Contains(reload.GetProperty("result").GetString(),
            Schema("Reload").GetProperty("properties").GetProperty("result").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(Always(Schema("Reload")).Order(), Keys((await AdminAsync(HttpMethod.Get, "/api/profiles")).GetProperty("configuration").GetProperty("lastReload")).Order());
        var refreshed = await AdminAsync(HttpMethod.Post, "/api/profiles/payments/refresh");
        Assert.Equal(Always(Schema("RefreshResult")).Order(), Keys(refreshed).Order());
        var probe = await AdminAsync(HttpMethod.Post, "/api/profiles/payments/probe");
        Assert.Subset(Properties(Schema("ProbeReport")), Keys(probe));
        Assert.Subset(Keys(probe), Always(Schema("ProbeReport")));
    }

    private async Task<JsonElement> AdminAsync(HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add(ServiceNodeInvoker.Callers.ApiKeyAuthenticator.HeaderName, InvokerHost.AdminKey);
        using var client = new HttpClient { BaseAddress = _host.Client.BaseAddress };
        using var response = await client.SendAsync(request);
        return await InvokerHost.ReadAsync(response, 200);
    }

    [Fact]
    public void Methods_and_request_fields_are_exactly_the_hosts()
    {
        var forward = Document.GetProperty("paths").GetProperty("/api/forward/{profile}/{path}").EnumerateObject()
            .Where(o => o.Name != "parameters").Select(o => o.Name.ToUpperInvariant());
        Assert.Equal(ServiceNodeInvoker.Endpoints.InvokerApi.ForwardMethods.Order(), forward.Order());
        var request = Schema("InvocationRequest");
        Assert.Equal(ServiceNodeInvoker.Endpoints.InvokerApi.ForwardMethods.Order(), request.GetProperty("properties").GetProperty("method").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!).Order());
        Assert.Equal(InvocationRequestParser.FieldNames.Order(), Properties(request).Order());
        Assert.False(request.GetProperty("additionalProperties").GetBoolean());
    }

    [Fact]
    public async Task Every_documented_request_field_is_accepted_and_an_undocumented_one_is_refused()
    {
        var request = new Dictionary<string, object?>
        {
            ["profile"] = "payments", ["method"] = "POST", ["url"] = $"{_backend.BaseAddress}echo",
            ["headers"] = new Dictionary<string, object> { ["X-One"] = "1" }, ["body"] = new { a = 1 },
            ["timeoutSeconds"] = 10, ["response"] = "envelope",
        };
        Assert.Equal(Properties(Schema("InvocationRequest")).Except(["bodyBase64"]).Order(), request.Keys.Order());
        await _host.InvokeJsonAsync(request);
        request.Remove("body");
        request["bodyBase64"] = Convert.ToBase64String([1, 2, 3]);
        await _host.InvokeJsonAsync(request);

        request["extra"] = true;
        var problem = await _host.InvokeJsonAsync(request, 400);
        Assert.Equal("extra", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task The_envelope_holds_exactly_the_documented_fields()
    {
        var envelope = await _host.InvokeJsonAsync(new { method = "GET", url = $"{_backend.BaseAddress}json" });
        var schema = Schema("Envelope");
        Assert.Equal(Properties(schema).Order(), Keys(envelope).Order());
        var tls = schema.GetProperty("properties").GetProperty("tls");
        Assert.Equal(Properties(tls).Order(), Keys(envelope.GetProperty("tls")).Order());
        Assert.Equal(Properties(tls.GetProperty("properties").GetProperty("clientCertificate")).Order(),
            Keys(envelope.GetProperty("tls").GetProperty("clientCertificate")).Order());
        Assert.Contains(envelope.GetProperty("bodyEncoding").GetString(),
            schema.GetProperty("properties").GetProperty("bodyEncoding").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Problems_hold_the_documented_fields_and_every_one_is_marked_with_invoker_error()
    {
        var problem = Schema("Problem");
        var seen = new HashSet<string>();
        foreach (var response in new[]
        {
            await _host.InvokeRawAsync("{\"method\":\"GET\"}"),
            await _host.InvokeAsync(new { method = "GET", url = "https://nobody.example/" }),
            await _host.InvokeAsync(new { method = "GET", url = $"{_backend.BaseAddress}slow?ms=5000", timeoutSeconds = 0.3, response = "passthrough" }),
            await _host.Client.GetAsync("/api/forward/nosuch/x"),
            await _host.Client.GetAsync("/api/forward/payments/a/%252e%252e/b"),
        })
        {
            using (response)
            {
                var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                var keys = Keys(body);
                Assert.Subset(Properties(problem), keys);
                Assert.Subset(keys, Always(problem));
                seen.UnionWith(keys);
                // Envelope, passthrough and forward problems alike: a caller tells them from the backend's own answers by the header.
                Assert.Equal(body.GetProperty("code").GetString(), response.Headers.GetValues(InvokerHeaders.Error).Single());
            }
        }
        // field and cause too, from the invalid request and the timeout; tokenError is asserted by the token tests (Tokens/TokenTests).
        Assert.Equal(Properties(problem).Except(["tokenError"]).Order(), seen.Order());
    }

    [Fact]
    public async Task Health_holds_the_documented_fields()
    {
        await _host.InvokeJsonAsync(new { method = "GET", url = $"{_backend.BaseAddress}json" }); // the certificate is loaded now
        using var response = await _host.Client.GetAsync("/api/health");
        var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var schema = Schema("Health");
        Assert.Subset(Properties(schema), Keys(health));
        Assert.Subset(Keys(health), Always(schema));
        var profileSchema = Schema("ProfileHealth");
        var profile = health.GetProperty("profiles").GetProperty("payments");
        Assert.Equal(Always(profileSchema).Order(), Keys(profile).Order());
        foreach (var part in new[] { "certificate", "trustedCa" })
        {
            var documented = profileSchema.GetProperty("properties").GetProperty(part);
            Assert.Subset(Properties(documented), Keys(profile.GetProperty(part)));
            Assert.Subset(Keys(profile.GetProperty(part)), Always(documented));
            // Loaded, every field documented for that case is there too (Key Vault's "vault" aside).
            Assert.Subset(Keys(profile.GetProperty(part)), Properties(documented).Where(p => p != "vault").ToHashSet());
        }
    }

    [Fact]
    public async Task The_documented_headers_and_key_locations_are_the_ones_the_host_uses()
    {
        var headers = Document.GetProperty("components").GetProperty("parameters").GetProperty("InvokerTimeout").GetProperty("name").GetString();
        Assert.Equal(InvokerHeaders.Timeout, headers);
        using (var forward = await _host.Client.GetAsync("/api/forward/payments/json"))
        {
            Assert.True(forward.Headers.Contains(InvokerHeaders.Duration));
        }
        var schemes = Document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("x-functions-key", schemes.GetProperty("functionKeyHeader").GetProperty("name").GetString());
        Assert.Equal(ServiceNodeInvoker.Callers.ApiKeyAuthenticator.HeaderName, schemes.GetProperty("functionKeyHeader").GetProperty("name").GetString());
        // The key in the query works too, as on Azure.
        using var anonymous = new HttpClient { BaseAddress = _host.Client.BaseAddress };
        using var byQuery = await anonymous.GetAsync($"/api/health?{schemes.GetProperty("functionKeyQuery").GetProperty("name").GetString()}={InvokerHost.ApiKey}");
        Assert.Equal(200, (int)byQuery.StatusCode);
        using var passthrough = await _host.InvokeAsync(new { method = "GET", url = $"{_backend.BaseAddress}json", response = "passthrough" });
        Assert.True(passthrough.Headers.Contains(InvokerHeaders.Duration));
        var documented = Document.GetProperty("paths").GetProperty("/api/invoke").GetProperty("post").GetProperty("responses").GetProperty("200").GetProperty("headers");
        Assert.Equal([InvokerHeaders.Duration, InvokerHeaders.Token], Keys(documented));
        var problem = Document.GetProperty("components").GetProperty("responses").GetProperty("Problem").GetProperty("headers");
        Assert.Equal([InvokerHeaders.Error, "Retry-After"], Keys(problem)); // Retry-After: 503 busy, certificate-unavailable from a throttled vault, a throttled token endpoint
    }
}
