using System.Net.Http.Headers;

namespace ServiceNodeInvoker.Tests.Security;

public sealed class BadInputFixture : IAsyncLifetime
{
    public MutualTlsBackend Backend { get; private set; } = null!;
    public InvokerHost Host { get; private set; } = null!;

    /// <summary>The same settings in-process without a socket: for what is the request reader's and the pipeline's alone.</summary>
    public PipelineHarness Pipeline { get; private set; } = null!;
    private readonly TempFiles _files = new();

    private static void Limits(Dictionary<string, string?> settings)
    {
        settings["Invoker:MaxRequestBytes"] = "65536";
        settings["Invoker:MaxUrlLength"] = "2048";
    }

    public async Task InitializeAsync()
    {
        Backend = await TestPki.Instance.StartBackendAsync();
        var settings = ProfileSettings.Standard(_files, Backend.Port).Settings;
        Limits(settings);
        Host = await InvokerHost.StartAsync(settings);
        Pipeline = PipelineHarness.Start(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") }, (all, _) => Limits(all));
    }

    public async Task DisposeAsync()
    {
        await Pipeline.DisposeAsync();
        await Host.DisposeAsync();
        await Backend.DisposeAsync();
        _files.Dispose();
    }
}

/// <summary>
/// Malformed, hostile and oversized invocation requests: each gets a 4xx problem+json with a stable
/// code, none reaches the backend (in-process, <see cref="PipelineHarness"/>), and the real host stays healthy
/// after all of them.
/// </summary>
public sealed class BadInputCorpusTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    private const string U = "https://localhost:{p}/echo";

    private static string Nested(int depth) => new string('[', depth) + new string(']', depth);

    private static string Many(int count, Func<int, string> item) => string.Join(",", Enumerable.Range(0, count).Select(item));

    public static TheoryData<string, string> Corpus => new()
    {
        // not JSON, or not an object
        { "empty", "" },
        { "whitespace", "   \n\t " },
        { "null literal", "null" },
        { "array root", "[]" },
        { "string root", "\"GET https://x\"" },
        { "number root", "42" },
        { "truncated", "{\"method\":\"GET\",\"url\":" },
        { "trailing garbage", "{\"method\":\"GET\",\"url\":\"" + U + "\"} trailing" },
        { "two objects", "{}{}" },
        { "single quotes", "{'method':'GET'}" },
        { "comment", "{/* hi */\"method\":\"GET\",\"url\":\"" + U + "\"}" },
        { "trailing comma", "{\"method\":\"GET\",\"url\":\"" + U + "\",}" },
        { "unquoted key", "{method:\"GET\"}" },
        { "NaN", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":NaN}" },
        { "deeply nested body", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"body\":" + Nested(200) + "}" },
        { "deeply nested root", Nested(5000) },
        { "BOM then garbage", "\uFEFF{" },
        // duplicate and unknown fields
        { "duplicate method", "{\"method\":\"GET\",\"method\":\"POST\",\"url\":\"" + U + "\"}" },
        { "duplicate url", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"url\":\"https://evil.example/\"}" },
        { "duplicate header name in object", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":\"1\",\"A\":\"2\"}}" },
        { "unknown field", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"proxy\":\"http://evil\"}" },
        { "case-variant field", "{\"Method\":\"GET\",\"url\":\"" + U + "\"}" },
        { "typo timeout", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeout\":5}" },
        // wrong types and values
        { "method number", "{\"method\":1,\"url\":\"" + U + "\"}" },
        { "method array", "{\"method\":[\"GET\"],\"url\":\"" + U + "\"}" },
        { "method empty", "{\"method\":\"\",\"url\":\"" + U + "\"}" },
        { "method CONNECT", "{\"method\":\"CONNECT\",\"url\":\"" + U + "\"}" },
        { "method TRACE", "{\"method\":\"TRACE\",\"url\":\"" + U + "\"}" },
        { "method with CRLF", "{\"method\":\"GET\\r\\nX: y\",\"url\":\"" + U + "\"}" },
        { "missing method", "{\"url\":\"" + U + "\"}" },
        { "missing url", "{\"method\":\"GET\"}" },
        { "url number", "{\"method\":\"GET\",\"url\":5}" },
        { "url empty", "{\"method\":\"GET\",\"url\":\"\"}" },
        { "url relative", "{\"method\":\"GET\",\"url\":\"/echo\"}" },
        { "url garbage", "{\"method\":\"GET\",\"url\":\"ht!tp://\"}" },
        { "url too long", "{\"method\":\"GET\",\"url\":\"https://localhost:{p}/" + new string('a', 3000) + "\"}" },
        { "headers array", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":[\"A: b\"]}" },
        { "headers string", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":\"A: b\"}" },
        { "header value object", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":{\"b\":1}}}" },
        { "header value number array", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":[1]}}" },
        { "header name empty", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"\":\"x\"}}" },
        { "header name with colon", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A:B\":\"x\"}}" },
        { "header name with CRLF", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\\r\\nB\":\"x\"}}" },
        { "header name with NUL", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\\u0000\":\"x\"}}" },
        { "header name non-ASCII", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"Ä\":\"x\"}}" },
        { "header value CR", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":\"x\\ry\"}}" },
        { "header value LF", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":\"x\\ny\"}}" },
        { "header value NUL", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":\"x\\u0000y\"}}" },
        { "header value in array with LF", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":[\"ok\",\"x\\ny\"]}}" },
        { "header value non-ASCII", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"A\":\"naïve\"}}" },
        { "Host header", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"host\":\"evil.example\"}}" },
        { "Content-Length header", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"headers\":{\"CONTENT-LENGTH\":\"0\"}}" },
        { "Transfer-Encoding header", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"headers\":{\"transfer-encoding\":\"chunked\"}}" },
        { "too many headers", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{" + Many(65, i => $"\"X-{i}\":\"v\"") + "}}" },
        { "too many header values", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"X\":[" + Many(65, _ => "\"v\"") + "]}}" },
        { "headers too large", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"X\":\"" + new string('v', 33_000) + "\"}}" },
        { "header name too long", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"headers\":{\"" + new string('x', 300) + "\":\"v\"}}" },
        { "body and bodyBase64", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"body\":\"a\",\"bodyBase64\":\"YQ==\"}" },
        { "bodyBase64 not base64", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"bodyBase64\":\"***\"}" },
        { "bodyBase64 number", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"bodyBase64\":12}" },
        { "timeout zero", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":0}" },
        { "timeout negative", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":-5}" },
        { "timeout huge", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":1e308}" },
        { "timeout beyond double", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":1e400}" },
        { "timeout string", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":\"30\"}" },
        { "timeout boolean", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"timeoutSeconds\":true}" },
        { "response unknown", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"response\":\"stream\"}" },
        { "response number", "{\"method\":\"GET\",\"url\":\"" + U + "\",\"response\":1}" },
        { "profile number", "{\"profile\":7,\"method\":\"GET\",\"url\":\"" + U + "\"}" },
        { "profile empty", "{\"profile\":\"\",\"method\":\"GET\",\"url\":\"" + U + "\"}" },
        { "profile huge", "{\"profile\":\"" + new string('p', 500) + "\",\"method\":\"GET\",\"url\":\"" + U + "\"}" },
        { "request over MaxRequestBytes", "{\"method\":\"POST\",\"url\":\"" + U + "\",\"body\":\"" + new string('b', 70_000) + "\"}" },
        { "unknown field with huge name", "{\"" + new string('f', 10_000) + "\":1,\"method\":\"GET\",\"url\":\"" + U + "\"}" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Bad_request_gets_a_4xx_problem_and_reaches_no_backend(string name, string json)
    {
        var body = json.Replace("{p}", PipelineHarness.Port.ToString(), StringComparison.Ordinal);
        using var response = await fixture.Pipeline.InvokeRawAsync(body);
        await AssertRefusedAsync(response, name);
    }

    public static TheoryData<string, byte[]> RawCorpus => new()
    {
        { "invalid UTF-8 in a string", Bytes("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"body\":\"", [0xC3, 0x28], "\"}") },
        { "overlong UTF-8", Bytes("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"body\":\"", [0xC0, 0xAF], "\"}") },
        { "lone continuation byte", Bytes("{\"method\":\"", [0x80], "GET\"}") },
        { "UTF-16 body", Encoding.Unicode.GetBytes("{\"method\":\"GET\",\"url\":\"https://localhost/\"}") },
        { "NUL bytes", new byte[64] },
        { "binary noise", Enumerable.Range(0, 512).Select(i => (byte)(i * 37 % 256)).ToArray() },
    };

    [Theory]
    [MemberData(nameof(RawCorpus))]
    public async Task Bad_bytes_get_a_4xx_problem_and_reach_no_backend(string name, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await fixture.Pipeline.Client.PostAsync("/api/invoke", content);
        await AssertRefusedAsync(response, name);
    }

    [Fact]
    public async Task The_corpus_holds_at_least_sixty_requests_and_the_host_is_healthy_after_them()
    {
        Assert.True(Corpus.Count + RawCorpus.Count >= 60, $"{Corpus.Count + RawCorpus.Count} requests");
        foreach (var row in Corpus)
        {
            using var response = await fixture.Host.InvokeRawAsync(((string)row[1]).Replace("{p}", fixture.Backend.Port.ToString(), StringComparison.Ordinal));
            Assert.InRange((int)response.StatusCode, 400, 499);
        }
        using var health = await fixture.Host.Client.GetAsync("/api/health");
        Assert.Equal(200, (int)health.StatusCode);
        var good = await fixture.Host.InvokeJsonAsync(new { method = "GET", url = $"{fixture.Backend.BaseAddress}echo" });
        Assert.Equal(200, good.GetProperty("status").GetInt32());
    }

    private async Task AssertRefusedAsync(HttpResponseMessage response, string name)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{name}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var code = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("code").GetString();
        Assert.Contains(code, new[] { ErrorCodes.InvalidRequest, ErrorCodes.TargetNotAllowed });
        Assert.Empty(fixture.Pipeline.Sent); // reached no backend
    }

    private static byte[] Bytes(string before, byte[] middle, string after) =>
        [.. Encoding.UTF8.GetBytes(before), .. middle, .. Encoding.UTF8.GetBytes(after)];
}
