using Microsoft.Extensions.DependencyInjection;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tokens;

namespace ServiceNodeInvoker.Tests.Tokens;

/// <summary>
/// The token step of a backend call, in-process and without a socket (<see cref="PipelineHarness"/>): the token endpoint
/// and the backend are one scripted handler, so each test says exactly what the authorization server issues and what the
/// backend refuses. The token client's own wire behaviour (mutual TLS, binding, hostile endpoints) is TokenTests'.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class BearerTokenPolicyTests
{
    private const string TokenHost = "auth.example";
    private static readonly string Url = $"{PipelineHarness.Backend}api/orders";

    /// <summary>A token endpoint issuing the next of <paramref name="tokens"/>, and a backend refusing those in <paramref name="refused"/>.</summary>
    private static PipelineHarness Start(string[] tokens, HashSet<string> refused, bool forward = false)
    {
        var issued = 0;
        return PipelineHarness.Start(request =>
        {
            if (request.RequestUri!.Host == TokenHost)
            {
                var token = tokens[Math.Min(Interlocked.Increment(ref issued), tokens.Length) - 1];
                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = new StringContent(JsonSerializer.Serialize(new { access_token = token, token_type = "Bearer", expires_in = 3600 }),
                        Encoding.UTF8, "application/json"),
                };
            }
            var presented = request.Headers.Authorization?.Parameter ?? "";
            if (refused.Contains(presented))
            {
                var refusal = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("refused") };
                refusal.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"revoked\"");
                return refusal;
            }
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent($"served with {presented}") };
        }, TokenSettings);
    }

    private static void TokenSettings(Dictionary<string, string?> settings, TempFiles _)
    {
        settings["Invoker:Profiles:payments:Token:Endpoint"] = $"https://{TokenHost}/oauth2/token";
        settings["Invoker:Profiles:payments:Token:ClientId"] = "bot-platform";
        settings["Invoker:Profiles:payments:Token:ClientAuthentication"] = "TlsClientAuth";
        settings["Invoker:Profiles:payments:BaseUrl"] = $"{PipelineHarness.Backend}api";
    }

    private static int TokenRequests(PipelineHarness harness) => harness.Sent.Count(s => s.Url.Host == TokenHost);

    private static string[] BackendTokens(PipelineHarness harness) =>
        harness.Sent.Where(s => s.Url.Host != TokenHost).Select(s => s.Header("Authorization") ?? "(none)").ToArray();

    [Fact]
    public async Task The_profiles_token_goes_as_Bearer_and_a_callers_own_Authorization_is_refused_before_anything_is_sent()
    {
        await using var harness = Start(["tok-1"], []);

        var reply = await InvokerHost.ReadAsync(await harness.InvokeAsync(new { method = "GET", url = Url }), 200);
        Assert.Equal("served with tok-1", reply.GetProperty("body").GetString());
        Assert.Equal(["Bearer tok-1"], BackendTokens(harness));

        using var own = await harness.InvokeAsync(new { method = "GET", url = Url, headers = new { Authorization = "Bearer mine" } });
        var problem = await InvokerHost.AssertProblemAsync(own, 400, ErrorCodes.InvalidRequest);
        Assert.Contains("may not carry an Authorization header", problem.GetProperty("detail").GetString());
        Assert.Single(BackendTokens(harness));
    }

    [Fact]
    public async Task A_refused_token_is_renewed_once_and_the_request_sent_again_with_the_new_one()
    {
        await using var harness = Start(["tok-1", "tok-2"], ["tok-1"]);

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });

        Assert.Equal(200, (int)reply.StatusCode);
        Assert.Equal("served with tok-2", await reply.Content.ReadAsStringAsync());
        Assert.Equal("refreshed", Assert.Single(reply.Headers.GetValues(InvokerHeaders.Token)));
        Assert.Equal(["Bearer tok-1", "Bearer tok-2"], BackendTokens(harness));
        Assert.Equal(2, TokenRequests(harness));
    }

    [Fact]
    public async Task A_streamed_body_is_not_sent_twice_the_backends_401_is_relayed_and_the_next_call_has_the_new_token()
    {
        await using var harness = Start(["tok-1", "tok-2"], ["tok-1"]);

        using var reply = await harness.ForwardAsync(HttpMethod.Post, "payments", "orders", new StringContent("{\"amount\":1}", Encoding.UTF8, "application/json"));

        Assert.Equal(401, (int)reply.StatusCode);
        Assert.Equal("not-retried", Assert.Single(reply.Headers.GetValues(InvokerHeaders.Token)));
        Assert.Equal(["Bearer tok-1"], BackendTokens(harness));
        using var next = await harness.ForwardAsync(HttpMethod.Get, "payments", "orders");
        Assert.Equal(200, (int)next.StatusCode);
        Assert.Equal(["Bearer tok-1", "Bearer tok-2"], BackendTokens(harness));
    }

    [Fact]
    public async Task A_backend_refusing_every_token_gets_one_renewal_then_its_401_is_relayed_as_retry_skipped()
    {
        await using var harness = Start(["tok-1", "tok-2", "tok-3"], ["tok-1", "tok-2", "tok-3"]);

        using var first = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });
        Assert.Equal(401, (int)first.StatusCode);
        using var second = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });
        Assert.Equal(401, (int)second.StatusCode);

        Assert.Equal("retry-skipped", Assert.Single(second.Headers.GetValues(InvokerHeaders.Token)));
        Assert.Equal(2, TokenRequests(harness)); // the first token and one forced renewal: no more within the interval
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 5004);
    }

    [Fact]
    public async Task A_challenge_too_costly_to_read_is_relayed_as_the_backends_401_never_a_500_and_its_answer_is_released()
    {
        // A hostile backend: a 401 whose WWW-Authenticate (54 KiB, under SocketsHttpHandler's 64 KiB header limit) is
        // thousands of "Bearer" challenges with no error parameter: each is scanned to the end, so the challenge's pattern
        // takes time quadratic in the length (a few KiB already pass its 100 ms limit).
        var challenge = string.Concat(Enumerable.Repeat("Bearer x ", 6000));
        await using var harness = PipelineHarness.Start(request =>
        {
            if (request.RequestUri!.Host == TokenHost)
            {
                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = new StringContent(JsonSerializer.Serialize(new { access_token = "tok-1", token_type = "Bearer", expires_in = 3600 }),
                        Encoding.UTF8, "application/json"),
                };
            }
            var refusal = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("who are you") };
            refusal.Headers.TryAddWithoutValidation("WWW-Authenticate", challenge);
            return refusal;
        }, TokenSettings);

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });

        Assert.Equal(401, (int)reply.StatusCode);
        Assert.Equal("who are you", await reply.Content.ReadAsStringAsync());
        Assert.False(reply.Headers.Contains(InvokerHeaders.Token)); // not read as a refusal of the token: nothing renewed
        Assert.Equal(1, TokenRequests(harness));
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_renewed_token_the_backend_refuses_too_is_reported_refused_at_once_and_its_401_relayed_as_refreshed()
    {
        await using var harness = Start(["tok-1", "tok-2"], ["tok-1", "tok-2"]);

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });

        Assert.Equal(401, (int)reply.StatusCode);
        Assert.Equal("refreshed", Assert.Single(reply.Headers.GetValues(InvokerHeaders.Token)));
        Assert.Equal(["Bearer tok-1", "Bearer tok-2"], BackendTokens(harness));
        // Health says the token held now is refused (it is tok-2), and the skipped renewal is logged, from this call on.
        var state = harness.Services.GetRequiredService<TokenStore>().For(harness.Services.GetRequiredService<ProfileCatalog>().Named("payments"))!.State;
        Assert.NotNull(state.RefusedAt);
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 5004);
    }

    /// <summary>A token endpoint answering its n-th request (from 1) with <paramref name="tokenEndpoint"/>, and a backend refusing tok-1.</summary>
    private static PipelineHarness StartRefusingTok1(Func<int, CancellationToken, Task<HttpResponseMessage>> tokenEndpoint,
        Func<CancellationToken, Task>? backendWithTok2 = null)
    {
        var issued = 0;
        return PipelineHarness.Start(async (request, cancellationToken) =>
        {
            if (request.RequestUri!.Host == TokenHost)
            {
                return await tokenEndpoint(Interlocked.Increment(ref issued), cancellationToken);
            }
            if (request.Headers.Authorization?.Parameter == "tok-1")
            {
                var refusal = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("refused") };
                refusal.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer error=\"invalid_token\"");
                return refusal;
            }
            if (backendWithTok2 is not null)
            {
                await backendWithTok2(cancellationToken);
            }
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("served") };
        }, TokenSettings);
    }

    private static HttpResponseMessage Issued(string token) => new(HttpStatusCode.OK)
    {
        Content = new StringContent(JsonSerializer.Serialize(new { access_token = token, token_type = "Bearer", expires_in = 3600 }), Encoding.UTF8, "application/json"),
    };

    [Fact]
    public async Task A_renewal_the_endpoint_refuses_after_the_backends_401_is_a_token_unavailable_logged_once_as_the_backend_calls_failure()
    {
        await using var harness = StartRefusingTok1((n, _) => Task.FromResult(n == 1 ? Issued("tok-1")
            : new HttpResponseMessage(HttpStatusCode.BadRequest)
            {
                Content = new StringContent("""{"error":"invalid_client"}""", Encoding.UTF8, "application/json"),
            }));

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url });

        var problem = await InvokerHost.AssertProblemAsync(reply, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal("invalid_client", problem.GetProperty("tokenError").GetString());
        Assert.Equal(["Bearer tok-1"], BackendTokens(harness));
        // The backend was called (its 401 started the renewal): one line, with the profile, target and duration, as before the token step.
        var logged = Assert.Single(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        Assert.Equal(2002, logged.EventId.Id);
        Assert.Contains("profile payments GET localhost:44300", logged.Message);
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_caller_gone_while_the_renewed_token_is_awaited_gets_no_reply_and_nothing_is_held()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = StartRefusingTok1(async (n, cancellationToken) =>
        {
            if (n == 1)
            {
                return Issued("tok-1");
            }
            gone.Cancel(); // the caller closes its connection while the new token is on its way
            await Task.Yield();
            return Issued("tok-2"); // the shared request ends (it is not the caller's), and releases its own lease
        });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));

        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        Assert.Equal(["Bearer tok-1"], BackendTokens(harness));
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_caller_gone_while_the_first_token_is_awaited_gets_no_reply_and_the_backend_is_not_called()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = StartRefusingTok1(async (_, _) =>
        {
            gone.Cancel(); // the caller closes its connection while the token is on its way
            await Task.Yield();
            return Issued("tok-2");
        });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));

        Assert.Empty(harness.Unhandled);
        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        Assert.Empty(BackendTokens(harness));
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_caller_gone_during_the_second_send_gets_no_reply_and_nothing_is_held()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = StartRefusingTok1((n, _) => Task.FromResult(Issued($"tok-{n}")), async cancellationToken =>
        {
            gone.Cancel(); // the caller closes its connection while the request goes once more
            await Task.Delay(Timeout.Infinite, cancellationToken);
        });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));

        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        Assert.Equal(["Bearer tok-1", "Bearer tok-2"], BackendTokens(harness));
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_token_that_could_inject_a_header_is_never_sent()
    {
        await using var harness = Start(["tok-1\r\nX-Injected: yes"], []);

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url });

        var problem = await InvokerHost.AssertProblemAsync(reply, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal(FailureCauses.TokenResponseInvalid, problem.GetProperty("cause").GetString());
        Assert.Empty(BackendTokens(harness));
        Assert.DoesNotContain("X-Injected", problem.GetRawText());
    }
}
