
namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>What the bot gets back: the envelope's body decoding, passthrough, redirects, bodies sent.</summary>
public sealed class EnvelopeAndPassthroughTests : IAsyncLifetime
{
    private static readonly TestPki Pki = TestPki.Instance;
    private readonly TempFiles _files = new();
    private readonly BackendRoutes _routes = new();
    private MutualTlsBackend _backend = null!;
    private InvokerHost _host = null!;

    private string Url(string path) => $"{_backend.BaseAddress}{path.TrimStart('/')}";

    public async Task InitializeAsync()
    {
        _backend = await Pki.StartBackendAsync(_routes.Map);
        var settings = ProfileSettings.Standard(_files, _backend.Port).Set("payments", "MaxResponseBytes", "2000000").Settings;
        _host = await InvokerHost.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _backend.DisposeAsync();
        _files.Dispose();
    }

    [Fact]
    public async Task Json_body_is_embedded_with_status_reason_and_headers()
    {
        var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/json") });

        Assert.Equal(201, reply.GetProperty("status").GetInt32());
        Assert.Equal("Created", reply.GetProperty("reason").GetString());
        Assert.Equal("json", reply.GetProperty("bodyEncoding").GetString());
        Assert.Equal("ch_1", reply.GetProperty("body").GetProperty("id").GetString());
        Assert.Equal("yes", reply.GetProperty("headers").GetProperty("x-backend")[0].GetString());
        Assert.True(reply.GetProperty("durationMs").GetDouble() > 0);
        // Kestrel answered chunked: a hop-by-hop header the bot must not see.
        Assert.False(reply.GetProperty("headers").TryGetProperty("transfer-encoding", out _));
    }

    [Fact]
    public async Task Text_body_is_a_string_and_invalid_json_falls_back_to_text()
    {
        var text = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/text") });
        Assert.Equal("text", text.GetProperty("bodyEncoding").GetString());
        Assert.Equal("héllo wörld", text.GetProperty("body").GetString());

        var broken = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/not-json") });
        Assert.Equal("text", broken.GetProperty("bodyEncoding").GetString());
        Assert.Equal("{ not json", broken.GetProperty("body").GetString());
    }

    [Fact]
    public async Task Binary_body_is_base64()
    {
        var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/binary") });
        Assert.Equal("base64", reply.GetProperty("bodyEncoding").GetString());
        Assert.Equal(BackendRoutes.Binary, reply.GetProperty("body").GetBytesFromBase64());
    }

    [Fact]
    public async Task Backend_errors_are_answers_not_invoker_errors()
    {
        var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/error") });
        Assert.Equal(500, reply.GetProperty("status").GetInt32());
        Assert.Equal("backend broke", reply.GetProperty("body").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Redirects_are_returned_not_followed()
    {
        var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/redirect") });
        Assert.Equal(302, reply.GetProperty("status").GetInt32());
        Assert.Equal("https://elsewhere.example/landing", reply.GetProperty("headers").GetProperty("location")[0].GetString());

        using var passthrough = await _host.InvokeAsync(new { method = "GET", url = Url("/redirect"), response = "passthrough" });
        Assert.Equal(302, (int)passthrough.StatusCode);
        Assert.Equal("https://elsewhere.example/landing", passthrough.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Bodies_are_sent_with_their_default_content_types_and_caller_headers_win()
    {
        var json = await _host.InvokeJsonAsync(new { method = "POST", url = Url("/body"), body = new { amount = 10 } });
        Assert.Equal("application/json", json.GetProperty("body").GetProperty("contentType").GetString());
        Assert.Equal("{\"amount\":10}", json.GetProperty("body").GetProperty("text").GetString());

        var text = await _host.InvokeJsonAsync(new { method = "POST", url = Url("/body"), body = "plain words" });
        Assert.Equal("text/plain; charset=utf-8", text.GetProperty("body").GetProperty("contentType").GetString());
        Assert.Equal("plain words", text.GetProperty("body").GetProperty("text").GetString());

        var binary = await _host.InvokeJsonAsync(new { method = "POST", url = Url("/body"), bodyBase64 = Convert.ToBase64String(BackendRoutes.Binary) });
        Assert.Equal("application/octet-stream", binary.GetProperty("body").GetProperty("contentType").GetString());
        Assert.Equal(BackendRoutes.Binary, Convert.FromBase64String(binary.GetProperty("body").GetProperty("base64").GetString()!));

        var custom = await _host.InvokeJsonAsync(new
        {
            method = "POST", url = Url("/body"), body = "<a/>", headers = new Dictionary<string, string> { ["Content-Type"] = "application/xml" },
        });
        Assert.Equal("application/xml", custom.GetProperty("body").GetProperty("contentType").GetString());
    }

    [Fact]
    public async Task Caller_headers_are_forwarded_but_hop_by_hop_ones_are_not()
    {
        var reply = await _host.InvokeJsonAsync(new
        {
            method = "GET",
            url = Url("/headers"),
            headers = new Dictionary<string, object>
            {
                ["Accept"] = new[] { "application/json", "text/plain" },
                ["X-Trace"] = "abc",
                ["Connection"] = "X-Private",
                ["X-Private"] = "dropped",
                ["Keep-Alive"] = "timeout=5",
                ["Upgrade"] = "h2c",
            },
        });
        var seen = reply.GetProperty("body");
        Assert.Equal("abc", seen.GetProperty("x-trace")[0].GetString());
        Assert.Contains("text/plain", string.Join(",", seen.GetProperty("accept").EnumerateArray().Select(v => v.GetString())));
        Assert.False(seen.TryGetProperty("x-private", out _));
        Assert.False(seen.TryGetProperty("keep-alive", out _));
        Assert.False(seen.TryGetProperty("upgrade", out _));
    }

    [Fact]
    public async Task Passthrough_returns_status_headers_and_body_bytes()
    {
        using var response = await _host.InvokeAsync(new { method = "GET", url = Url("/json"), response = "passthrough" });

        Assert.Equal(201, (int)response.StatusCode);
        Assert.Equal("yes", response.Headers.GetValues("x-backend").Single());
        Assert.True(double.Parse(response.Headers.GetValues("invoker-duration-ms").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ch_1", body.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Passthrough_streams_a_1_MiB_body_before_the_backend_has_finished_it()
    {
        const int size = 1024 * 1024;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke")
        {
            Content = JsonContent(new { method = "GET", url = Url($"/stream?size={size}"), response = "passthrough" }),
        };
        using var response = await _host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();

        // The backend holds the rest of the body until we have seen its first 64 KiB through the invoker:
        // an invoker that buffered would never deliver them, and this read would time out.
        var buffer = new byte[64 * 1024];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        _routes.FirstChunkSeen.SetResult();
        long total = buffer.Length;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }
        Assert.Equal(size, total);
    }

    [Fact]
    public async Task Responses_over_MaxResponseBytes_are_refused()
    {
        using var response = await _host.InvokeAsync(new { method = "GET", url = Url("/large?size=3000000") });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.ResponseTooLarge);
        Assert.Contains("MaxResponseBytes", problem.GetProperty("detail").GetString());

        var fits = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/large?size=1000000") });
        Assert.Equal(1_000_000, fits.GetProperty("body").GetBytesFromBase64().Length);

        // A HEAD answer announces the entity's length but carries no body: never "too large".
        var head = await _host.InvokeJsonAsync(new { method = "HEAD", url = Url("/large?size=3000000") });
        Assert.Equal(200, head.GetProperty("status").GetInt32());
        Assert.Equal("3000000", head.GetProperty("headers").GetProperty("content-length")[0].GetString());
        Assert.Equal("", head.GetProperty("body").GetString());
    }

    [Fact]
    public async Task Hundred_sequential_invocations_use_one_tls_connection()
    {
        for (var i = 0; i < 100; i++)
        {
            var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/json") });
            Assert.Equal(201, reply.GetProperty("status").GetInt32());
        }
        Assert.Equal(1, _backend.Connections);
    }

    [Fact]
    public async Task Empty_body_is_an_empty_text()
    {
        var reply = await _host.InvokeJsonAsync(new { method = "GET", url = Url("/empty") });
        Assert.Equal(204, reply.GetProperty("status").GetInt32());
        Assert.Equal("", reply.GetProperty("body").GetString());
    }

    private static StringContent JsonContent(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");
}
