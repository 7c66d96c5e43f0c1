
namespace ServiceNodeInvoker.Tests.Contract;

/// <summary>
/// Bad requests get a problem+json naming the field, and never reach a backend. The pipeline's own behaviour: run
/// in-process without a socket (<see cref="PipelineHarness"/>), the backend a handler that counts what reaches it.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class RequestValidationTests : IAsyncLifetime
{
    private PipelineHarness _host = null!;

    private static string Echo => $"{PipelineHarness.Backend}echo";

    public Task InitializeAsync()
    {
        _host = PipelineHarness.Start(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Unknown_profile_gives_404()
    {
        using var response = await _host.InvokeAsync(new { profile = "nope", method = "GET", url = Echo });
        var problem = await InvokerHost.AssertProblemAsync(response, 404, ErrorCodes.UnknownProfile);
        Assert.Equal("profile", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Host_not_owned_by_any_profile_gives_403()
    {
        using var response = await _host.InvokeAsync(new { method = "GET", url = $"https://localhost:{PipelineHarness.Port + 1}/echo" });
        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains("No profile owns", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Named_profile_must_own_the_url()
    {
        using var response = await _host.InvokeAsync(new { profile = "payments", method = "GET", url = "https://example.com/" });
        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains("does not own example.com:443", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("http://localhost:{port}/echo", "Only https")]
    [InlineData("https://user:secret@localhost:{port}/echo", "user information")]
    [InlineData("https://localhost:{port}/echo#frag", "fragment")]
    public async Task Disallowed_url_forms_give_403(string url, string expected)
    {
        using var response = await _host.InvokeAsync(new { method = "GET", url = url.Replace("{port}", PipelineHarness.Port.ToString()) });
        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains(expected, problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("secret", problem.ToString());
    }

    [Theory]
    [InlineData("{\"method\":\"GET\",", "$")]
    [InlineData("[1,2]", "$")]
    [InlineData("{\"method\":\"GET\"}", "url")]
    [InlineData("{\"method\":\"GET\",\"url\":\"not a url\"}", "url")]
    [InlineData("{\"method\":\"FETCH\",\"url\":\"https://localhost/\"}", "method")]
    [InlineData("{\"url\":\"https://localhost/\"}", "method")]
    [InlineData("{\"method\":42,\"url\":\"https://localhost/\"}", "method")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"X-A\":\"a\\r\\nInjected: 1\"}}", "headers.X-A")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"X-A\":\"a\\u0000b\"}}", "headers.X-A")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"Bad Name\":\"a\"}}", "headers")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"Host\":\"evil\"}}", "headers.Host")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"Content-Length\":\"5\"}}", "headers.Content-Length")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"Transfer-Encoding\":\"chunked\"}}", "headers.Transfer-Encoding")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"X-A\":7}}", "headers.X-A")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"surprise\":1}", "surprise")]
    [InlineData("{\"method\":\"GET\",\"method\":\"POST\",\"url\":\"https://localhost/\"}", "$")]
    [InlineData("{\"method\":\"POST\",\"url\":\"https://localhost/\",\"body\":\"a\",\"bodyBase64\":\"YQ==\"}", "bodyBase64")]
    [InlineData("{\"method\":\"POST\",\"url\":\"https://localhost/\",\"bodyBase64\":\"not base64!\"}", "bodyBase64")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"timeoutSeconds\":-1}", "timeoutSeconds")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"timeoutSeconds\":\"10\"}", "timeoutSeconds")]
    [InlineData("{\"method\":\"GET\",\"url\":\"https://localhost/\",\"response\":\"stream\"}", "response")]
    public async Task Malformed_requests_give_400_naming_the_field(string json, string field)
    {
        using var response = await _host.InvokeRawAsync(json);
        var problem = await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Empty(_host.Sent); // never reached the backend
    }

    [Fact]
    public async Task Header_values_are_not_echoed_in_errors()
    {
        using var response = await _host.InvokeRawAsync(
            "{\"method\":\"GET\",\"url\":\"https://localhost/\",\"headers\":{\"Authorization\":\"Bearer s3cr3t\\r\\n\"}}");
        var problem = await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
        Assert.DoesNotContain("s3cr3t", problem.ToString());
        Assert.DoesNotContain("s3cr3t", _host.Logs.All);
    }

    [Fact]
    public async Task Oversized_request_body_gives_400()
    {
        var huge = new string('a', 9 * 1024 * 1024);
        using var response = await _host.InvokeAsync(new { method = "POST", url = Echo, body = huge });
        var problem = await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
        Assert.Contains("larger than", problem.GetProperty("detail").GetString());
    }
}
