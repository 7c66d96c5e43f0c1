using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.Features;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// Forward mode through a real mutual-TLS backend (Kestrel requiring a client certificate that chains to
/// the test root): every method, bodies streamed both ways, the header and query rules, path escapes
/// against a canary, errors marked with <c>invoker-error</c>, grants.
/// </summary>
public sealed class ForwardModeTests : IAsyncLifetime
{
    private static readonly TestPki Pki = TestPki.Instance;
    private readonly TempFiles _files = new();
    private MutualTlsBackend _backend = null!;
    private InvokerHost _host = null!;
    private int _canaryHits;
    private int _v1Hits;

    /// <summary>The upload test: set once the backend has read the first 64 KiB of a body the caller is still sending.</summary>
    private readonly TaskCompletionSource _firstUploadChunk = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The download test: the backend sends the rest only once the caller has read the first 64 KiB through us.</summary>
    private readonly TaskCompletionSource _callerReadFirstChunk = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private const string OtherKey = "other-key-9876543210";

    public async Task InitializeAsync()
    {
        _backend = await Pki.StartBackendAsync(app =>
        {
            app.MapMethods("/v1/echo/{**rest}", ServiceNodeInvoker.Endpoints.InvokerApi.ForwardMethods, async (HttpContext c) =>
            {
                Interlocked.Increment(ref _v1Hits);
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[64 * 1024];
                long length = 0;
                int read;
                while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    length += read;
                }
                c.Response.Headers["x-backend-set"] = "kept";
                c.Response.Headers.Append("set-cookie", new Microsoft.Extensions.Primitives.StringValues(["a=1; Path=/", "b=2; Path=/"]));
                return Results.Json(new
                {
                    method = c.Request.Method,
                    target = c.Features.Get<IHttpRequestFeature>()!.RawTarget,
                    headers = c.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToArray()),
                    length,
                    sha256 = Convert.ToHexString(sha.GetHashAndReset()),
                    chunked = c.Request.ContentLength is null && length > 0,
                    client = c.Connection.ClientCertificate?.Subject,
                }, statusCode: c.Request.Method == "POST" ? 201 : 200);
            });
            app.MapMethods("/v1/file", ["GET", "HEAD"], (HttpContext c) =>
            {
                c.Response.ContentType = "text/plain";
                c.Response.ContentLength = 11;
                return HttpMethods.IsHead(c.Request.Method) ? Task.CompletedTask : c.Response.WriteAsync("hello world");
            });
            app.MapPost("/v1/upload-stream", async (HttpContext c) =>
            {
                var buffer = new byte[64 * 1024];
                var total = 0L;
                int read;
                while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
                {
                    total += read;
                    if (total >= 64 * 1024)
                    {
                        _firstUploadChunk.TrySetResult();
                    }
                }
                return Results.Text($"received {total}");
            });
            app.MapGet("/v1/download-stream", async (HttpContext c) =>
            {
                var chunk = new byte[64 * 1024];
                Array.Fill(chunk, (byte)'z');
                await c.Response.Body.WriteAsync(chunk);
                await c.Response.Body.FlushAsync();
                await _callerReadFirstChunk.Task.WaitAsync(TimeSpan.FromSeconds(30));
                for (var i = 0; i < 15; i++)
                {
                    await c.Response.Body.WriteAsync(chunk);
                }
            });
            app.MapGet("/v1/slow", async (HttpContext c) => await Task.Delay(Timeout.Infinite, c.RequestAborted));
            app.MapGet("/v1/headers-then-stall", async (HttpContext c) =>
            {
                c.Response.ContentType = "application/json";
                await c.Response.Body.FlushAsync(); // the status and headers leave; the body never comes
                await Task.Delay(Timeout.Infinite, c.RequestAborted);
            });
            app.MapGet("/v1/problem", () => Results.Problem("the backend's own problem", statusCode: 409, extensions: new Dictionary<string, object?> { ["code"] = "conflict" }));
            app.MapGet("/v1/redirect", () => Results.Redirect("https://elsewhere.example/next"));
            app.MapGet("/v1", () => Results.Text("the base itself"));
            // Anything outside /v1: reaching it would be an escape from the BaseUrl.
            app.MapMethods("/{**outside}", ServiceNodeInvoker.Endpoints.InvokerApi.ForwardMethods, () =>
            {
                Interlocked.Increment(ref _canaryHits);
                return Results.Text("canary", statusCode: 418);
            });
        });
        var settings = ProfileSettings.Standard(_files, _backend.Port, "pay")
            .Set("pay", "BaseUrl", $"https://localhost:{_backend.Port}/v1")
            .Set("pay", "ForwardCallerHeaders:0", "X-Forwarded-For")
            .Set("pay", "MaxResponseBytes", "4000000")
            .Settings;
        // A second profile on the same backend, forwarded to, that only another caller may use.
        var granted = ProfileSettings.Standard(_files, _backend.Port, "granted").Settings;
        settings["Invoker:Profiles:granted:Hosts:0"] = $"127.0.0.1:{_backend.Port}";
        foreach (var (key, value) in granted.Where(s => !s.Key.Contains(":Hosts:")))
        {
            settings[key] = value;
        }
        settings["Invoker:Profiles:granted:BaseUrl"] = $"https://127.0.0.1:{_backend.Port}/v1";
        settings["Invoker:Profiles:granted:AllowedCallers:0"] = "other-bot";
        settings["Invoker:Callers:ApiKeys:other-bot"] = ApiKeyAuthenticator.HashKey(OtherKey);
        settings["Invoker:MaxRequestBytes"] = (2 * 1024 * 1024).ToString();
        _host = await InvokerHost.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _backend.DisposeAsync();
        _files.Dispose();
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public async Task Each_method_reaches_the_backend_over_mutual_tls_under_the_base_path(string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/api/forward/pay/echo/orders/42");
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{\"amount\":10}", Encoding.UTF8, "application/json");
        }
        using var response = await _host.Client.SendAsync(request);

        Assert.Equal(method == "POST" ? HttpStatusCode.Created : HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains(InvokerHeaders.Error));
        Assert.True(double.Parse(response.Headers.GetValues(InvokerHeaders.Duration).Single(), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.Equal("kept", response.Headers.GetValues("x-backend-set").Single());
        Assert.Equal(["a=1; Path=/", "b=2; Path=/"], response.Headers.GetValues("set-cookie"));
        var seen = await Json(response);
        Assert.Equal(method, seen.GetProperty("method").GetString());
        Assert.Equal("/v1/echo/orders/42", seen.GetProperty("target").GetString());
        Assert.Equal(Pki.ClientRsa.Subject, seen.GetProperty("client").GetString());
        Assert.Equal(method is "POST" or "PUT" or "PATCH" ? 13 : 0, seen.GetProperty("length").GetInt64());
        if (method is "POST" or "PUT" or "PATCH")
        {
            Assert.Equal("application/json; charset=utf-8", seen.GetProperty("headers").GetProperty("content-type")[0].GetString());
        }
    }

    [Fact]
    public async Task Head_returns_the_backends_headers_and_length_without_a_body()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "/api/forward/pay/file");
        using var response = await _host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(11, response.Content.Headers.ContentLength);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());

        using var get = await _host.Client.GetAsync("/api/forward/pay/file");
        Assert.Equal("hello world", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_profile_alone_is_the_base_url_and_a_trailing_slash_is_kept()
    {
        using var bare = await _host.Client.GetAsync("/api/forward/pay");
        Assert.Equal("the base itself", await bare.Content.ReadAsStringAsync());

        using var slash = await _host.Client.GetAsync("/api/forward/pay/echo/");
        Assert.Equal("/v1/echo/", (await Json(slash)).GetProperty("target").GetString());
    }

    [Fact]
    public async Task A_large_body_goes_up_streamed_chunked_or_with_its_length_and_arrives_whole()
    {
        var body = RandomNumberGenerator.GetBytes(1_500_000);
        var expected = Convert.ToHexString(SHA256.HashData(body));

        using var sized = await _host.Client.PostAsync("/api/forward/pay/echo/upload", new ByteArrayContent(body));
        var withLength = await Json(sized);
        Assert.Equal(body.Length, withLength.GetProperty("length").GetInt64());
        Assert.Equal(expected, withLength.GetProperty("sha256").GetString());
        Assert.False(withLength.GetProperty("chunked").GetBoolean());
        Assert.Equal(body.Length.ToString(), withLength.GetProperty("headers").GetProperty("content-length")[0].GetString());

        using var chunked = await _host.Client.PostAsync("/api/forward/pay/echo/upload", new StreamContent(new MemoryStream(body)) { Headers = { ContentLength = null } });
        var withoutLength = await Json(chunked);
        Assert.Equal(expected, withoutLength.GetProperty("sha256").GetString());
        Assert.True(withoutLength.GetProperty("chunked").GetBoolean());
    }

    /// <summary>Sends 64 KiB, then waits until the backend has them before sending the rest: only a streaming invoker gets there.</summary>
    private sealed class GatedContent(TaskCompletionSource gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var chunk = new byte[64 * 1024];
            await stream.WriteAsync(chunk);
            await stream.FlushAsync();
            await gate.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await stream.WriteAsync(chunk);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task The_request_body_reaches_the_backend_while_the_caller_is_still_sending()
    {
        using var response = await _host.Client.PostAsync("/api/forward/pay/upload-stream", new GatedContent(_firstUploadChunk));
        Assert.Equal("received 131072", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_response_body_reaches_the_caller_while_the_backend_is_still_sending()
    {
        using var response = await _host.Client.GetAsync("/api/forward/pay/download-stream", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        await stream.ReadExactlyAsync(buffer);
        _callerReadFirstChunk.TrySetResult();
        var rest = 0L;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            rest += read;
        }
        Assert.Equal(15 * 64 * 1024, rest);
    }

    [Fact]
    public async Task End_to_end_headers_go_through_and_ours_hop_by_hop_and_front_end_ones_do_not()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/forward/pay/echo/h");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer for-the-backend");
        request.Headers.TryAddWithoutValidation("X-Custom", "one");
        request.Headers.TryAddWithoutValidation("X-ARR-ClientCert", "MIIB-not-a-real-cert");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "invoker.example");
        request.Headers.TryAddWithoutValidation("X-MS-Client-Principal-Name", "someone@contoso.com");
        request.Headers.TryAddWithoutValidation("X-Original-URL", "/api/forward/pay/echo/h");
        request.Headers.TryAddWithoutValidation("Connection", "x-drop-me");
        request.Headers.TryAddWithoutValidation("x-drop-me", "listed in Connection");
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation(InvokerHeaders.Timeout, "20");
        request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        using var response = await _host.Client.SendAsync(request);
        var headers = (await Json(response)).GetProperty("headers");

        Assert.Equal("Bearer for-the-backend", headers.GetProperty("authorization")[0].GetString());
        Assert.Equal("one", headers.GetProperty("x-custom")[0].GetString());
        Assert.Equal("203.0.113.9", headers.GetProperty("x-forwarded-for")[0].GetString()); // the profile lists it
        Assert.Equal($"localhost:{_backend.Port}", headers.GetProperty("host")[0].GetString());
        foreach (var absent in new[] { "x-functions-key", "x-arr-clientcert", "x-forwarded-host", "x-ms-client-principal-name", "x-original-url",
                     "x-drop-me", "keep-alive", "invoker-timeout" })
        {
            Assert.False(headers.TryGetProperty(absent, out _), $"{absent} reached the backend");
        }
        // W3C trace context: the caller's trace continues, with the invocation's span as the parent.
        var traceparent = headers.GetProperty("traceparent")[0].GetString()!;
        Assert.StartsWith("00-0af7651916cd43dd8448eb211c80319c-", traceparent);
        Assert.DoesNotContain("b7ad6b7169203331", traceparent);
    }

    [Fact]
    public async Task The_query_goes_as_written_without_the_function_key()
    {
        using var response = await _host.Client.GetAsync("/api/forward/pay/echo/q?a=1&b=x%20y&code=SECRET-KEY&c&d=%2F&code=again");
        var seen = await Json(response);
        Assert.Equal("/v1/echo/q?a=1&b=x%20y&c&d=%2F", seen.GetProperty("target").GetString());
        Assert.DoesNotContain("SECRET-KEY", _host.Logs.All);
    }

    [Fact]
    public async Task Allowed_path_characters_and_escapes_go_as_written()
    {
        using var response = await _host.Client.GetAsync(new Uri("/api/forward/pay/echo/a%20b;v=1/x@y:z/%E2%82%AC/~t.x", UriKind.Relative));
        Assert.Equal("/v1/echo/a%20b;v=1/x@y:z/%E2%82%AC/~t.x", (await Json(response)).GetProperty("target").GetString());
    }

    public static TheoryData<string> Escapes() => new(
    [
        "/api/forward/pay/../canary",
        "/api/forward/pay/..%2fcanary",
        "/api/forward/pay/%2e%2e/canary",
        "/api/forward/pay/%2E%2E%2Fcanary",
        "/api/forward/pay/.%2e/canary",
        "/api/forward/pay/..%5ccanary",
        "/api/forward/pay/..\\canary",
        "/api/forward/pay/echo/../../canary",
        "/api/forward/pay/./echo",
        "/api/forward/pay/..;/canary",
        "/api/forward/pay/%2e%2e;x=1/canary",
        "/api/forward/pay/%c0%ae%c0%ae/canary",
        "/api/forward/pay/%ef%bc%8e%ef%bc%8e/canary",
        "/api/forward/pay/.../canary",
        "/api/forward/pay/..%20/canary",
        "/api/forward/pay//canary",
        "/api/forward/pay/%2f%2fevil.example/x",
        "/api/forward/pay/x%0d%0aHost:%20evil/canary",
        "/api/forward/pay/%252e%252e/canary",
        "/api/forward/pay/%u002e%u002e/canary",
        "/api/forward/pay/..%2f..%2f..%2fetc%2fpasswd",
        "/api/forward/pay/echo/%2e%2e",
        "/api/forward/pay/%2e/canary",
        "/api/forward/pay/%e2%80%a4%e2%80%a4/canary",
        "/api/forward/pay/%ef%bd%a1%ef%bd%a1/canary",
        "/api/forward/pay/echo%2f..%2f..%2fcanary",
        "/api/forward/pay/a|b",
        "/api/forward/pay/echo?x=<script>",
        "/api/forward/pay/%zz/canary",
    ]);

    [Theory]
    [MemberData(nameof(Escapes))]
    public async Task A_path_that_could_leave_the_base_is_refused_and_nothing_reaches_the_backend(string target)
    {
        var (status, headers, body) = await RawGetAsync(target);

        Assert.True(status is 400 or 404, $"{target} → {status} {body}");
        Assert.Equal(0, Volatile.Read(ref _canaryHits));
        Assert.Equal(0, Volatile.Read(ref _v1Hits));
        Assert.Equal(0, _backend.Requests);
        // Answered by us (not only the server's own parser), with the code in the header and the problem.
        Assert.True(headers.TryGetValue(InvokerHeaders.Error, out var code), $"{target} → {status} without {InvokerHeaders.Error}: {body}");
        Assert.Contains(code, new[] { "invalid-request", "unknown-profile" });
        Assert.Contains($"\"code\":\"{code}\"", body);
    }

    /// <summary>Targets the server's own parser refuses or normalises away from the forward route: still nothing reaches the backend.</summary>
    [Theory]
    [InlineData("/api/forward/pay/%00/canary", 400)]
    [InlineData("/api/forward/pay/..%00/canary", 400)]
    [InlineData("/api/forward/pay/..", 404)]
    [InlineData("/api/forward/pay/../..", 404)]
    public async Task A_target_the_server_refuses_first_reaches_nothing_either(string target, int expected)
    {
        var (status, _, body) = await RawGetAsync(target);
        Assert.True(status == expected, $"{target} → {status} {body}");
        Assert.Equal(0, _backend.Requests);
    }

    /// <summary>A request target exactly as written (HttpClient would normalise it first).</summary>
    private async Task<(int Status, Dictionary<string, string> Headers, string Body)> RawGetAsync(string target)
    {
        var port = new Uri(_host.App.Urls.First()).Port;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await using var stream = client.GetStream();
        var request = $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{ApiKeyAuthenticator.HeaderName}: {InvokerHost.ApiKey}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var text = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = text[..headEnd].Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        return (int.Parse(lines[0].Split(' ')[1]), headers, text[(headEnd + 4)..]);
    }

    [Fact]
    public async Task Invoker_errors_carry_invoker_error_and_the_backends_own_problems_do_not()
    {
        using var own = await _host.Client.GetAsync("/api/forward/pay/problem");
        Assert.Equal(HttpStatusCode.Conflict, own.StatusCode);
        Assert.False(own.Headers.Contains(InvokerHeaders.Error));
        Assert.Equal("conflict", (await Json(own)).GetProperty("code").GetString());

        await AssertErrorAsync(await _host.Client.GetAsync("/api/forward/nosuch/x"), 404, "unknown-profile");
        using var anonymous = new HttpClient { BaseAddress = _host.Client.BaseAddress };
        await AssertErrorAsync(await anonymous.GetAsync("/api/forward/pay/echo/x"), 401, "unauthenticated");
        await AssertErrorAsync(await _host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/pay/echo/x")
        {
            Headers = { { InvokerHeaders.Timeout, "soon" } },
        }), 400, "invalid-request");
        Assert.Equal(0, Volatile.Read(ref _v1Hits));
    }

    [Fact]
    public async Task A_lowered_timeout_gives_504_with_invoker_error_in_about_that_time()
    {
        var watch = Stopwatch.StartNew();
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/pay/slow")
        {
            Headers = { { InvokerHeaders.Timeout, "0.5" } },
        });
        await AssertErrorAsync(response, 504, "backend-timeout");
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.4, 10);
    }

    [Fact]
    public async Task A_timeout_after_the_backends_headers_but_before_its_body_is_still_a_marked_problem()
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/pay/headers-then-stall")
        {
            Headers = { { InvokerHeaders.Timeout, "0.5" } },
        });
        await AssertErrorAsync(response, 504, "backend-timeout");
    }

    [Fact]
    public async Task A_body_over_MaxRequestBytes_is_refused_with_or_without_a_length()
    {
        var body = new byte[2 * 1024 * 1024 + 1];
        await AssertErrorAsync(await _host.Client.PostAsync("/api/forward/pay/echo/big", new ByteArrayContent(body)), 400, "invalid-request");
        var chunked = new StreamContent(new MemoryStream(body)) { Headers = { ContentLength = null } };
        using var response = await _host.Client.PostAsync("/api/forward/pay/echo/big", chunked);
        // The backend may have started reading; what the caller gets is our refusal, never a success.
        await AssertErrorAsync(response, 400, "invalid-request");
    }

    [Fact]
    public async Task A_redirect_is_returned_not_followed()
    {
        using var response = await _host.Client.GetAsync("/api/forward/pay/redirect");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("https://elsewhere.example/next", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Grants_apply_as_for_invoke()
    {
        await AssertErrorAsync(await _host.Client.GetAsync("/api/forward/granted/echo/x"), 403, "caller-not-allowed");

        using var other = new HttpClient { BaseAddress = _host.Client.BaseAddress };
        other.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, OtherKey);
        using var allowed = await other.GetAsync("/api/forward/granted/echo/x");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("/v1/echo/x", (await Json(allowed)).GetProperty("target").GetString());
    }

    [Fact]
    public async Task A_profile_without_a_base_url_cannot_be_forwarded_to()
    {
        await using var backend = await Pki.StartBackendAsync();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(_files, backend.Port, "plain").Settings);
        using var response = await host.Client.GetAsync("/api/forward/plain/x");
        Assert.Contains("has no BaseUrl", await response.Content.ReadAsStringAsync());
        await AssertErrorAsync(response, 404, "forward-not-configured");
    }

    [Fact]
    public async Task A_backend_that_is_down_is_a_502_with_invoker_error()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(_files, port, "down")
            .Set("down", "BaseUrl", $"https://localhost:{port}/").Settings);
        await AssertErrorAsync(await host.Client.GetAsync("/api/forward/down/x"), 502, "backend-unreachable");
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, int status, string code)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(status == (int)response.StatusCode, $"expected {status} {code}, got {(int)response.StatusCode}: {body}");
            Assert.Equal(code, response.Headers.GetValues(InvokerHeaders.Error).Single());
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal(code, JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        }
    }
}
