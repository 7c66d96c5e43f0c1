using System.Net.Sockets;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>
/// Every problem reply of every route, each status docs/openapi.json documents for it, made for real: each carries the
/// invoker-error header with its code (the README's promise), admin routes' 401/403/404/405 included (issue 34, item 7).
/// The cases are checked against the document, so a status documented without a case here fails.
/// </summary>
public sealed class ProblemRepliesTests : IAsyncLifetime
{
    private static readonly TestPki Pki = TestPki.Instance;
    private const string OtherKey = "other-bot-key-0123456789";
    private readonly TempFiles _files = new();
    private MutualTlsBackend _backend = null!;
    private RawSocketServer _silent = null!;
    private int _closedPort;
    private InvokerHost _host = null!;

    public async Task InitializeAsync()
    {
        _backend = await Pki.StartBackendAsync();
        _silent = RawSocketServer.Silent();
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            _closedPort = ((IPEndPoint)listener.LocalEndpoint).Port; // nothing listens there once stopped
        }
        var settings = ProfileSettings.Standard(_files, _backend.Port)
            .Set("payments", "BaseUrl", _backend.BaseAddress.ToString())
            .Set("restricted", "Hosts:0", "restricted.contoso.com")
            .Set("restricted", "BaseUrl", "https://restricted.contoso.com/")
            .Set("restricted", "AllowedCallers:0", "other-bot")
            .Set("closed", "Hosts:0", $"localhost:{_closedPort}")
            .Set("closed", "BaseUrl", $"https://localhost:{_closedPort}/")
            .Set("broken", "Hosts:0", "broken.contoso.com")
            .Set("broken", "BaseUrl", "https://broken.contoso.com/")
            .Set("broken", "ClientCertificate:Source", "File")
            .Set("broken", "ClientCertificate:Path", Path.Combine(_files.Directory, "missing.pfx"))
            .Set("silent", "Hosts:0", $"localhost:{_silent.Port}")
            .Set("silent", "BaseUrl", $"https://localhost:{_silent.Port}/")
            .Set("silent", "Timeout", "1")
            .Settings;
        settings["Invoker:Callers:ApiKeys:other-bot"] = ApiKeyAuthenticator.HashKey(OtherKey);
        _host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _silent.DisposeAsync();
        await _backend.DisposeAsync();
        _files.Dispose();
    }

    private enum Key { None, Caller, Admin }

    private sealed record Case(string Operation, int Status, string Code, string Method, string Path, Key Key, string? Json = null);

    private Case[] Cases() =>
    [
        new("POST /api/invoke", 400, ErrorCodes.InvalidRequest, "POST", "/api/invoke", Key.Caller, "{\"method\":\"GET\"}"),
        new("POST /api/invoke", 401, ErrorCodes.Unauthenticated, "POST", "/api/invoke", Key.None, "{}"),
        new("POST /api/invoke", 403, ErrorCodes.TargetNotAllowed, "POST", "/api/invoke", Key.Caller, "{\"method\":\"GET\",\"url\":\"https://nobody.example/\"}"),
        new("POST /api/invoke", 404, ErrorCodes.UnknownProfile, "POST", "/api/invoke", Key.Caller, "{\"profile\":\"nosuch\",\"method\":\"GET\",\"url\":\"https://nobody.example/\"}"),
        new("POST /api/invoke", 405, ErrorCodes.MethodNotAllowed, "GET", "/api/invoke", Key.Caller),
        new("POST /api/invoke", 502, ErrorCodes.BackendUnreachable, "POST", "/api/invoke", Key.Caller, $"{{\"method\":\"GET\",\"url\":\"https://localhost:{_closedPort}/\"}}"),
        new("POST /api/invoke", 503, ErrorCodes.CertificateUnavailable, "POST", "/api/invoke", Key.Caller, "{\"method\":\"GET\",\"url\":\"https://broken.contoso.com/\"}"),
        new("POST /api/invoke", 504, ErrorCodes.BackendTimeout, "POST", "/api/invoke", Key.Caller, $"{{\"method\":\"GET\",\"url\":\"https://localhost:{_silent.Port}/\",\"timeoutSeconds\":0.5}}"),
        .. Forward("GET /api/forward/{profile}/{path}", "/x"),
        .. Forward("GET /api/forward/{profile}", ""),
        new("GET /api/health", 401, ErrorCodes.Unauthenticated, "GET", "/api/health", Key.None),
        new("GET /api/health", 405, ErrorCodes.MethodNotAllowed, "POST", "/api/health", Key.Caller),
        .. Admin("POST /api/profiles/{name}/probe", "POST", "/api/profiles/payments/probe", "/api/profiles/nosuch/probe", "GET"),
        .. Admin("GET /api/profiles", "GET", "/api/profiles", null, "POST"),
        .. Admin("POST /api/profiles/{name}/refresh", "POST", "/api/profiles/payments/refresh", "/api/profiles/nosuch/refresh", "GET"),
        .. Admin("POST /api/configuration/reload", "POST", "/api/configuration/reload", null, "GET"),
        new("GET /api/live", 405, ErrorCodes.MethodNotAllowed, "POST", "/api/live", Key.None),
    ];

    private static Case[] Forward(string operation, string tail) =>
    [
        new(operation, 400, ErrorCodes.InvalidRequest, "GET", "/api/forward/payments/a/%252e%252e/b", Key.Caller),
        new(operation, 401, ErrorCodes.Unauthenticated, "GET", $"/api/forward/payments{tail}", Key.None),
        new(operation, 403, ErrorCodes.CallerNotAllowed, "GET", $"/api/forward/restricted{tail}", Key.Caller),
        new(operation, 404, ErrorCodes.UnknownProfile, "GET", $"/api/forward/nosuch{tail}", Key.Caller),
        new(operation, 405, ErrorCodes.MethodNotAllowed, "TRACE", $"/api/forward/payments{tail}", Key.Caller),
        new(operation, 502, ErrorCodes.BackendUnreachable, "GET", $"/api/forward/closed{tail}", Key.Caller),
        new(operation, 503, ErrorCodes.CertificateUnavailable, "GET", $"/api/forward/broken{tail}", Key.Caller),
        new(operation, 504, ErrorCodes.BackendTimeout, "GET", $"/api/forward/silent{tail}", Key.Caller),
    ];

    private static Case[] Admin(string operation, string method, string path, string? unknown, string otherMethod) =>
    [
        new(operation, 401, ErrorCodes.Unauthenticated, method, path, Key.None),
        new(operation, 403, ErrorCodes.Forbidden, method, path, Key.Caller),
        .. unknown is null ? Array.Empty<Case>() : [new Case(operation, 404, ErrorCodes.UnknownProfile, method, unknown, Key.Admin)],
        new(operation, 405, ErrorCodes.MethodNotAllowed, otherMethod, path, Key.Admin),
    ];

    [Fact]
    public void Every_documented_problem_status_of_every_route_has_a_case()
    {
        var documented = new HashSet<string>();
        foreach (var path in OpenApiDocumentTests.Document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name != "parameters"))
            {
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                if (path.Name.StartsWith("/api/forward", StringComparison.Ordinal) && operation.Name != "get")
                {
                    continue; // the other methods document the same statuses (OpenApiDocumentTests)
                }
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    if (response.Value.TryGetProperty("$ref", out var reference))
                    {
                        Assert.Equal("#/components/responses/Problem", reference.GetString());
                        documented.Add($"{name} {response.Name}");
                    }
                }
            }
        }
        Assert.Equal(documented.Order(), Cases().Select(c => $"{c.Operation} {c.Status}").Distinct().Order());
        // The one problem response documents the header.
        var problem = OpenApiDocumentTests.Document.GetProperty("components").GetProperty("responses").GetProperty("Problem");
        Assert.True(problem.GetProperty("headers").TryGetProperty(InvokerHeaders.Error, out _));
    }

    [Fact]
    public async Task Every_problem_reply_of_every_route_carries_invoker_error_with_its_code()
    {
        using var client = new HttpClient { BaseAddress = _host.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var results = await Task.WhenAll(Cases().Select(async c =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(c.Method), c.Path);
            if (c.Json is not null)
            {
                request.Content = new StringContent(c.Json, Encoding.UTF8, "application/json");
            }
            if (c.Key != Key.None)
            {
                request.Headers.Add(ApiKeyAuthenticator.HeaderName, c.Key == Key.Admin ? InvokerHost.AdminKey : InvokerHost.ApiKey);
            }
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var marked = response.Headers.TryGetValues(InvokerHeaders.Error, out var values) ? string.Join(",", values) : "(none)";
            var code = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                ? JsonDocument.Parse(body).RootElement.GetProperty("code").GetString() : "(not a problem)";
            return (c, Status: (int)response.StatusCode, Code: code, Marked: marked);
        }));
        var wrong = results.Where(r => r.Status != r.c.Status || r.Code != r.c.Code || r.Marked != r.c.Code)
            .Select(r => $"{r.c.Method} {r.c.Path}: {r.Status} {r.Code}, invoker-error {r.Marked} (expected {r.c.Status} {r.c.Code})").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}
