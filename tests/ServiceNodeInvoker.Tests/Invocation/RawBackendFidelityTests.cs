using System.IO.Compression;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// Backends that put on the wire what nginx, Apache httpd and Python's http.server put there (bytes
/// Kestrel never sends): the caller must see what a direct call sees, in passthrough, and the
/// envelope must say the same thing as data.
/// </summary>
public sealed class RawBackendFidelityTests
{
    private const string NginxDate = "Date: Tue, 01 Dec 2026 10:00:00 GMT";

    private static readonly string NginxHead =
        "HTTP/1.1 200 OK\nServer: nginx/1.22.1\n" + NginxDate + "\nContent-Type: text/html\nContent-Length: 285\n" +
        "Last-Modified: Mon, 30 Nov 2026 09:00:00 GMT\nConnection: keep-alive\nETag: \"6756a4b3-11d\"\nAccept-Ranges: bytes";

    private static async Task<(RawTlsBackend Backend, InvokerHost Host, TempFiles Files)> StartAsync(Func<RawRequest, RawReply> reply,
        Action<Dictionary<string, string?>>? settings = null)
    {
        var files = new TempFiles();
        var backend = new RawTlsBackend(reply);
        var profile = new ProfileSettings().Add("raw", backend.Port, null, files.CertificatePem("root.pem", TestPki.Instance.RootPublic)).Settings;
        settings?.Invoke(profile);
        return (backend, await InvokerHost.StartAsync(profile), files);
    }

    private static Task<HttpResponseMessage> PassthroughAsync(InvokerHost host, RawTlsBackend backend, string method = "GET", string path = "/") =>
        host.InvokeAsync(new { method, url = new Uri(backend.BaseAddress, path).ToString(), response = "passthrough" });

    /// <summary>Every end-to-end header as name → raw values, the way a client reading the wire would list them.</summary>
    private static List<string> Headers(HttpResponseMessage response, params string[] ignore)
    {
        var skip = new HashSet<string>(["Date", "Connection", "Keep-Alive", "Transfer-Encoding", "invoker-duration-ms", .. ignore],
            StringComparer.OrdinalIgnoreCase);
        return response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated)
            .Where(h => !skip.Contains(h.Key))
            .SelectMany(h => h.Value.Select(v => $"{h.Key.ToLowerInvariant()}: {v}"))
            .Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task Head_with_content_length_as_nginx_sends_it_passes_through_without_a_500()
    {
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(NginxHead));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var direct = await backend.DirectClient().SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        using var relayed = await PassthroughAsync(host, backend, "HEAD");

        Assert.Equal(200, (int)relayed.StatusCode);
        Assert.Empty(await relayed.Content.ReadAsByteArrayAsync());
        Assert.Equal("285", relayed.Headers.NonValidated["invoker-backend-content-length"].ToString());
        // Our reply to the POST has an empty body, so its own Content-Length (if any) is 0; the backend's is kept aside.
        Assert.Equal(Headers(direct, "Content-Length"), Headers(relayed, "invoker-backend-content-length", "Content-Length"));
        Assert.True(relayed.Content.Headers.ContentLength is null or 0);
        Assert.Contains(host.Logs.Lines, l => l.Contains("→ 200", StringComparison.Ordinal) && l.Contains("passthrough", StringComparison.Ordinal));

        var envelope = await host.InvokeJsonAsync(new { method = "HEAD", url = backend.BaseAddress.ToString() });
        Assert.Equal(["285"], envelope.GetProperty("headers").GetProperty("content-length").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task Latin1_and_obs_text_header_values_reach_the_caller_as_the_same_bytes()
    {
        var disposition = "Content-Disposition: attachment; filename=\"résumé.pdf\""; // Latin-1 é = 0xE9 on the wire
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            $"HTTP/1.1 200 OK\nServer: Apache/2.4.62 (Debian)\n{NginxDate}\n{disposition}\nX-Note: caf\u00e9 \u00bd\nContent-Type: application/pdf\nContent-Length: 4", "%PDF"u8.ToArray()));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var direct = await backend.DirectClient().GetAsync("/");
        using var relayed = await PassthroughAsync(host, backend);

        Assert.Equal(200, (int)relayed.StatusCode);
        Assert.Equal(Headers(direct), Headers(relayed));
        Assert.Equal("attachment; filename=\"résumé.pdf\"", relayed.Content.Headers.NonValidated["Content-Disposition"].ToString());
        Assert.Equal("%PDF", await relayed.Content.ReadAsStringAsync());

        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = backend.BaseAddress.ToString() });
        Assert.Equal("attachment; filename=\"résumé.pdf\"", envelope.GetProperty("headers").GetProperty("content-disposition")[0].GetString());
    }

    [Fact]
    public async Task Header_values_are_forwarded_as_sent_not_reserialized()
    {
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            "HTTP/1.0 200 OK\nServer: BaseHTTP/0.6 Python/3.11.7\n" + NginxDate + "\nCache-Control: no-cache,  no-store,max-age=0\n" +
            "Vary: Accept-Encoding, Origin\nSet-Cookie: a=1; Path=/; HttpOnly\nSet-Cookie: b=2; Path=/; Secure\nContent-Type: text/plain\nContent-Length: 2",
            "ok"u8.ToArray(), close: true));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var direct = await backend.DirectClient().GetAsync("/");
        using var relayed = await PassthroughAsync(host, backend);

        Assert.Equal(Headers(direct), Headers(relayed));
        Assert.Equal(["BaseHTTP/0.6 Python/3.11.7"], relayed.Headers.NonValidated["Server"]); // one line, as RFC 9110 wants
        Assert.Equal(["no-cache,  no-store,max-age=0"], relayed.Headers.NonValidated["Cache-Control"]);
        Assert.Equal(["Accept-Encoding, Origin"], relayed.Headers.NonValidated["Vary"]);
        Assert.Equal(["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"], relayed.Headers.NonValidated["Set-Cookie"]);

        var headers = (await host.InvokeJsonAsync(new { method = "GET", url = backend.BaseAddress.ToString() })).GetProperty("headers");
        Assert.Equal(["BaseHTTP/0.6 Python/3.11.7"], headers.GetProperty("server").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["no-cache,  no-store,max-age=0"], headers.GetProperty("cache-control").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(2, headers.GetProperty("set-cookie").GetArrayLength());
    }

    [Fact]
    public async Task Interim_1xx_answers_are_skipped_and_the_final_one_relayed()
    {
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\nLink: </style.css>; rel=preload; as=style\r\n\r\n" +
            "HTTP/1.1 201 Created\n" + NginxDate + "\nContent-Type: application/json\nContent-Length: 11", "{\"id\":\"7\"}\n"u8.ToArray()));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var relayed = await PassthroughAsync(host, backend, "POST");
        Assert.Equal(201, (int)relayed.StatusCode);
        Assert.Equal("{\"id\":\"7\"}\n", await relayed.Content.ReadAsStringAsync());

        var envelope = await host.InvokeJsonAsync(new { method = "POST", url = backend.BaseAddress.ToString(), body = new { } });
        Assert.Equal(201, envelope.GetProperty("status").GetInt32());
        Assert.Equal("7", envelope.GetProperty("body").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Gzip_content_is_relayed_encoded_never_decoded()
    {
        using var packed = new MemoryStream();
        await using (var gzip = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync("{\"hello\":\"world\"}"u8.ToArray());
        }
        var bytes = packed.ToArray();
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            $"HTTP/1.1 200 OK\nServer: nginx\n{NginxDate}\nContent-Type: application/json\nContent-Encoding: gzip\nVary: Accept-Encoding\nContent-Length: {bytes.Length}", bytes));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var direct = await backend.DirectClient().GetAsync("/");
        using var relayed = await PassthroughAsync(host, backend);

        Assert.Equal(Headers(direct), Headers(relayed));
        Assert.Equal(bytes, await relayed.Content.ReadAsByteArrayAsync());
        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = backend.BaseAddress.ToString() });
        Assert.Equal("base64", envelope.GetProperty("bodyEncoding").GetString());
        Assert.Equal(bytes, envelope.GetProperty("body").GetBytesFromBase64());
        Assert.Equal("gzip", envelope.GetProperty("headers").GetProperty("content-encoding")[0].GetString());
    }

    [Fact]
    public async Task A_body_cut_short_is_an_error_for_the_caller_never_a_complete_answer()
    {
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            $"HTTP/1.1 200 OK\n{NginxDate}\nContent-Type: text/plain\nContent-Length: 100", Encoding.ASCII.GetBytes(new string('x', 40)), close: true));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        await Assert.ThrowsAnyAsync<Exception>(async () => await (await backend.DirectClient().GetAsync("/")).Content.ReadAsByteArrayAsync());
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var relayed = await PassthroughAsync(host, backend);
            await relayed.Content.ReadAsByteArrayAsync();
        });
        using var envelope = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString() });
        await InvokerHost.AssertProblemAsync(envelope, 502, "backend-unreachable");
    }

    [Fact]
    public async Task Over_the_limit_before_anything_was_sent_is_a_502_problem_not_a_reset()
    {
        var chunked = new StringBuilder();
        for (var i = 0; i < 5; i++)
        {
            chunked.Append("3e8\r\n").Append('y', 1000).Append("\r\n");
        }
        chunked.Append("0\r\n\r\n");
        var (backend, host, files) = await StartAsync(
            _ => RawReply.Of($"HTTP/1.1 200 OK\n{NginxDate}\nContent-Type: text/plain\nTransfer-Encoding: chunked", Encoding.ASCII.GetBytes(chunked.ToString())),
            s => s["Invoker:Profiles:raw:MaxResponseBytes"] = "1000");
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var relayed = await PassthroughAsync(host, backend);

        await InvokerHost.AssertProblemAsync(relayed, 502, "response-too-large");
    }

    [Theory]
    [InlineData("Content-Length: 5\nContent-Length: 7", "conflicting Content-Length")]
    [InlineData("Content-Length: 5, 7", "conflicting Content-Length")]
    [InlineData("Content-Length: -1", "invalid Content-Length")]
    public async Task Conflicting_or_negative_content_length_is_a_502_and_the_connection_is_not_reused(string lengths, string said)
    {
        var calls = 0;
        var (backend, host, files) = await StartAsync(_ => Interlocked.Increment(ref calls) % 2 == 1
            ? RawReply.Of($"HTTP/1.1 200 OK\n{NginxDate}\nContent-Type: text/plain\n{lengths}", "hello"u8.ToArray())
            : RawReply.Of($"HTTP/1.1 200 OK\n{NginxDate}\nContent-Type: text/plain\nContent-Length: 2", "ok"u8.ToArray()));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        foreach (var mode in new[] { "passthrough", "envelope" })
        {
            var before = backend.Connections;
            using var bad = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString(), response = mode });
            var problem = await InvokerHost.AssertProblemAsync(bad, 502, "invalid-backend-response");
            Assert.Contains(said, problem.GetProperty("detail").GetString());
            using var next = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString(), response = "passthrough" });
            Assert.Equal("ok", await next.Content.ReadAsStringAsync());
            Assert.True(backend.Connections > before, "the connection with the bad framing went back to the pool");
        }
    }

    [Fact]
    public async Task An_unasked_101_is_a_502_at_once_in_both_modes()
    {
        var (backend, host, files) = await StartAsync(_ => new RawReply(
            RawReply.Of("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade").Bytes.Concat("\x81\x05hello"u8.ToArray()).ToArray(), Hang: true));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        foreach (var mode in new[] { "passthrough", "envelope" })
        {
            var started = DateTime.UtcNow;
            using var reply = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString(), response = mode });
            var problem = await InvokerHost.AssertProblemAsync(reply, 502, "invalid-backend-response");
            Assert.Contains("101 Switching Protocols", problem.GetProperty("detail").GetString());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "it waited for a timeout");
        }
    }

    [Fact]
    public async Task Json_that_is_not_utf8_is_carried_as_base64_so_the_envelope_stays_parseable()
    {
        var latin1Json = Encoding.Latin1.GetBytes("{\"name\":\"Jos\u00e9\"}");
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            $"HTTP/1.1 200 OK\n{NginxDate}\nContent-Type: application/json\nContent-Length: {latin1Json.Length}", latin1Json));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = backend.BaseAddress.ToString() });

        Assert.Equal("base64", envelope.GetProperty("bodyEncoding").GetString());
        Assert.Equal(latin1Json, envelope.GetProperty("body").GetBytesFromBase64());
    }

    [Fact]
    public async Task The_envelope_and_problems_are_readable_utf8()
    {
        var text = "héllo — ünïcode"u8.ToArray();
        var (backend, host, files) = await StartAsync(_ => RawReply.Of(
            $"HTTP/1.1 422 Unprocessable Content\n{NginxDate}\nContent-Type: application/problem+json\nContent-Length: {text.Length + 10}",
            [.. "{\"title\":\""u8, .. text, .. "\"}"u8]));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var response = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString() });
        var raw = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync());

        Assert.Contains("héllo — ünïcode", raw);
        Assert.Contains("application/problem+json", raw);
        Assert.DoesNotContain("\\u00", raw);
        using var problem = await host.InvokeAsync(new { method = "GET", url = "https://unknown.example/é" });
        Assert.DoesNotContain("\\u0027", await problem.Content.ReadAsStringAsync()); // the apostrophes in "No profile owns …"
    }

    [Fact]
    public async Task An_iis_detailed_403_16_page_is_a_refusal_of_our_certificate_a_plain_403_is_the_backends()
    {
        const string iis = "<!DOCTYPE html><html><head><title>IIS 10.0 Detailed Error - 403.16 - Forbidden</title></head><body>" +
                           "<h3>HTTP Error 403.16 - Forbidden</h3><h4>Your client certificate is either not trusted or is invalid.</h4></body></html>";
        var (backend, host, files) = await StartAsync(request => request.Target == "/plain"
            ? RawReply.Of($"HTTP/1.1 403 Forbidden\n{NginxDate}\nContent-Type: text/html\nContent-Length: 22", "<h1>403 Forbidden</h1>"u8.ToArray())
            : RawReply.Of($"HTTP/1.1 403 Forbidden\nServer: Microsoft-IIS/10.0\n{NginxDate}\nContent-Type: text/html\nContent-Length: {iis.Length}", Encoding.ASCII.GetBytes(iis)));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var refused = await host.InvokeAsync(new { method = "GET", url = backend.BaseAddress.ToString() });
        var detail = (await InvokerHost.AssertProblemAsync(refused, 502, "tls-handshake-failed")).GetProperty("detail").GetString();
        Assert.Contains("untrusted or invalid (IIS 403.16)", detail);
        var plain = await host.InvokeJsonAsync(new { method = "GET", url = new Uri(backend.BaseAddress, "/plain").ToString() });
        Assert.Equal(403, plain.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_backend_header_with_a_control_character_is_a_502_in_passthrough_and_kept_in_the_envelope()
    {
        await using var backend = new RawTlsBackend(_ => RawReply.Of("HTTP/1.1 200 OK\nContent-Length: 2\nX-Trace: a\u0001b", "ok"u8.ToArray()));
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);

        using var passthrough = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}x", response = "passthrough" });
        var problem = await InvokerHost.AssertProblemAsync(passthrough, 502, ErrorCodes.InvalidBackendResponse);
        Assert.Contains("'X-Trace'", problem.GetProperty("detail").GetString());
        Assert.Contains("0x01", problem.GetProperty("detail").GetString());
        Assert.Equal(ErrorCodes.InvalidBackendResponse, passthrough.Headers.GetValues(InvokerHeaders.Error).Single());

        var envelope = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}x" });
        Assert.Equal("a\u0001b", envelope.GetProperty("headers").GetProperty("x-trace")[0].GetString());
    }
}
