using Microsoft.Extensions.Primitives;

namespace ServiceNodeInvoker.Tests.Contract;

/// <summary>The one header policy, directly: what crosses the invoker in each direction.</summary>
[Trait("Tier", "Fast")]
public sealed class HeaderPolicyTests
{
    [Fact]
    public void Forward_mode_sends_end_to_end_headers_and_keeps_ours_and_what_front_ends_add_to_itself()
    {
        var headers = new HeaderDictionary
        {
            ["Accept"] = "application/json",
            ["X-Custom"] = new StringValues(["a", "b"]),
            ["Host"] = "invoker.example",
            ["Connection"] = "keep-alive, X-Drop-Me",
            ["X-Drop-Me"] = "1",
            ["Keep-Alive"] = "timeout=5",
            ["x-functions-key"] = "secret-key",
            ["invoker-timeout"] = "5",
            ["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ["X-Forwarded-For"] = "203.0.113.7",
            ["X-Real-IP"] = "203.0.113.7",
            ["Content-Length"] = "12",
        };

        var kept = HeaderPolicy.ForwardedFromCaller(headers, new HashSet<string>(["X-Real-IP"], StringComparer.OrdinalIgnoreCase));

        Assert.Equal(["Accept", "X-Custom", "X-Real-IP"], kept.Select(h => h.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b"], kept.Single(h => h.Key == "X-Custom").Value);
    }

    [Fact]
    public void Request_headers_go_on_the_message_or_its_body_and_hop_by_hop_ones_are_dropped()
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "https://backend.example/");
        HeaderPolicy.ApplyToRequest(message,
        [
            new("Content-Type", ["application/xml"]),
            new("Accept", ["text/plain"]),
            new("Connection", ["X-Hop"]),
            new("X-Hop", ["1"]),
            new("Upgrade", ["h2c"]),
        ]);

        Assert.Equal("application/xml", message.Content!.Headers.ContentType!.MediaType); // an empty body carries it
        Assert.Equal(["text/plain"], message.Headers.GetValues("Accept"));
        Assert.False(message.Headers.Contains("X-Hop"));
        Assert.False(message.Headers.Contains("Upgrade"));
        Assert.False(message.Headers.Contains("Connection"));
    }

    [Fact]
    public void Response_headers_come_back_as_sent_without_hop_by_hop_ones()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Server", "BaseHTTP/0.6 Python/3.11.7");
        response.Headers.TryAddWithoutValidation("Cache-Control", "no-store,  max-age=0");
        response.Headers.TryAddWithoutValidation("Set-Cookie", ["a=1", "b=2"]);
        response.Headers.TryAddWithoutValidation("Connection", "X-Per-Hop");
        response.Headers.TryAddWithoutValidation("X-Per-Hop", "1");
        response.Headers.TryAddWithoutValidation("Transfer-Encoding", "chunked");
        response.Content.Headers.TryAddWithoutValidation("Content-Type", "text/plain; charset=latin1");

        var relayed = HeaderPolicy.ResponseEndToEnd(response).ToDictionary(h => h.Key, h => h.Value.ToArray(), StringComparer.OrdinalIgnoreCase);

        Assert.Equal(["Cache-Control", "Content-Type", "Server", "Set-Cookie"], relayed.Keys.Order(StringComparer.OrdinalIgnoreCase));
        Assert.Equal(["BaseHTTP/0.6 Python/3.11.7"], relayed["Server"]);
        Assert.Equal(["no-store,  max-age=0"], relayed["Cache-Control"]);
        Assert.Equal(["a=1", "b=2"], relayed["Set-Cookie"]);
        Assert.Equal("latin1", HeaderPolicy.ContentType(response)!.CharSet);
    }

    [Theory]
    [InlineData("X-Request-Id", true)]
    [InlineData("Bad Name", false)]
    [InlineData("", false)]
    [InlineData("X:Colon", false)]
    public void Header_names_are_tokens(string name, bool valid) => Assert.Equal(valid, HeaderPolicy.IsValidName(name));

    [Theory]
    [InlineData("plain value\twith tab", true)]
    [InlineData("line\r\nbreak", false)]
    [InlineData("nul\0", false)]
    [InlineData("résumé", false)]
    public void Header_values_are_visible_ascii(string value, bool valid) => Assert.Equal(valid, HeaderPolicy.IsValidValue(value));
}
