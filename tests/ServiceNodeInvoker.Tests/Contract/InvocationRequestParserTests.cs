
namespace ServiceNodeInvoker.Tests.Contract;

/// <summary>The invocation request's JSON, read directly: what it becomes, and the field each mistake is put down to.</summary>
[Trait("Tier", "Fast")]
public sealed class InvocationRequestParserTests
{
    private static InvocationRequest Parse(string json, RequestLimits? limits = null) => InvocationRequestParser.Parse(Encoding.UTF8.GetBytes(json), limits);

    [Fact]
    public void A_full_request_is_read_field_by_field()
    {
        var request = Parse("""
            {"profile":"payments","method":"post","url":"https://pay.example:8443/v1/charges?id=7",
             "headers":{"Accept":"application/json","X-Ids":["1","2"]},"body":{"amount":10},"timeoutSeconds":12.5,"response":"passthrough"}
            """);

        Assert.Equal("payments", request.Profile);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("https://pay.example:8443/v1/charges?id=7", request.Url.OriginalString);
        Assert.Equal(["1", "2"], request.Headers.Single(h => h.Key == "X-Ids").Value);
        Assert.Equal("""{"amount":10}""", Encoding.UTF8.GetString(request.Body!.Content.Span));
        Assert.Equal("application/json", request.Body.DefaultContentType);
        Assert.Equal(TimeSpan.FromSeconds(12.5), request.Timeout);
        Assert.Equal(ResponseMode.Passthrough, request.Response);
    }

    [Fact]
    public void A_string_body_is_utf8_text_and_bytes_come_as_base64()
    {
        Assert.StartsWith("text/plain", Parse("""{"method":"PUT","url":"https://a.example/","body":"héllo"}""").Body!.DefaultContentType);
        var bytes = Parse("""{"method":"PUT","url":"https://a.example/","bodyBase64":"AAEC"}""").Body!;
        Assert.Equal([0, 1, 2], bytes.Content.ToArray());
        Assert.Equal("application/octet-stream", bytes.DefaultContentType);
    }

    [Theory]
    [InlineData("""{"method":"TRACE","url":"https://a.example/"}""", "method")]
    [InlineData("""{"method":"GET"}""", "url")]
    [InlineData("""{"method":"GET","url":"/relative"}""", "url")]
    [InlineData("""{"method":"GET","url":"https://a.example/","headers":{"Host":"evil.example"}}""", "headers.Host")]
    [InlineData("""{"method":"GET","url":"https://a.example/","headers":{"X-A":"line\r\nbreak"}}""", "headers.X-A")]
    [InlineData("""{"method":"GET","url":"https://a.example/","body":"a","bodyBase64":"AA=="}""", "bodyBase64")]
    [InlineData("""{"method":"GET","url":"https://a.example/","response":"stream"}""", "response")]
    [InlineData("""{"method":"GET","url":"https://a.example/","surprise":1}""", "surprise")]
    [InlineData("""{"method":"GET","method":"POST","url":"https://a.example/"}""", "$")]
    [InlineData("""[1,2]""", "$")]
    public void Each_mistake_is_an_invalid_request_naming_its_field(string json, string field)
    {
        var error = Assert.Throws<InvokerException>(() => Parse(json));
        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void The_limits_are_the_configured_ones()
    {
        var limits = new RequestLimits(MaxHeaderCount: 2);
        var error = Assert.Throws<InvokerException>(() => Parse("""{"method":"GET","url":"https://a.example/","headers":{"A":"1","B":"2","C":"3"}}""", limits));
        Assert.Equal("headers", error.Field);
        Assert.Contains("More than 2 header values", error.Message);
    }
}
