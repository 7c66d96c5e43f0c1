using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tokens;

namespace ServiceNodeInvoker.Tests.Tokens;

/// <summary>
/// Backends that want a certificate-bound OAuth token as well as the certificate: against <see cref="OAuthServer"/>,
/// whose token endpoint authenticates us over mutual TLS and whose API takes a token only over a connection that
/// presents the certificate the token is bound to.
/// </summary>
public sealed class TokenTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    public static TheoryData<string> Methods => ["tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt_rsa", "private_key_jwt_ec", "client_secret_basic"];

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Each_client_authentication_gets_a_token_bound_to_our_certificate_that_the_backend_accepts(string method)
    {
        var selfSigned = TokenSetup.SelfSigned();
        var (client, certificate, algorithm) = method switch
        {
            "tls_client_auth" => (TokenSetup.TlsClient(), Pki.ClientRsa, null),
            "self_signed_tls_client_auth" => (new OAuthClient("bot-self", ClientAuth.SelfSignedTlsClientAuth) { Certificate = selfSigned }, selfSigned, null),
            "private_key_jwt_rsa" => (new OAuthClient("bot-jwt", ClientAuth.PrivateKeyJwt) { Certificate = Pki.ClientRsa }, Pki.ClientRsa, "PS256"),
            "private_key_jwt_ec" => (new OAuthClient("bot-jwt-ec", ClientAuth.PrivateKeyJwt) { Certificate = Pki.ClientEc }, Pki.ClientEc, "ES256"),
            _ => (new OAuthClient("bot-secret", ClientAuth.ClientSecretBasic) { Secret = "s3cr:et/with+odd chars" }, Pki.ClientRsa, (string?)null),
        };
        await using var setup = await TokenSetup.StartAsync(client, certificate, (settings, _) => settings
            .Set(TokenSetup.Profile, "Token:Audience", "payments-api")
            .Set(TokenSetup.Profile, "Token:Resource", "https://payments.example/"));

        var envelope = await setup.InvokeAsync();

        Assert.Equal(200, envelope.GetProperty("status").GetInt32());
        Assert.Equal(client.Id, envelope.GetProperty("body").GetProperty("client").GetString());
        Assert.Equal("payments:read", envelope.GetProperty("body").GetProperty("scope").GetString());
        var seen = Assert.Single(setup.Server.Seen);
        Assert.Equal(client.Id, seen.ClientId);
        Assert.Equal("payments:read", seen.Scope);
        Assert.Equal("payments-api", seen.Audience);
        Assert.Equal("https://payments.example/", seen.Resource);
        Assert.Equal(OAuthServer.X5tS256(certificate), seen.PresentedThumbprint); // the token request went over our certificate
        Assert.Equal(algorithm, seen.AssertionAlgorithm);
    }

    [Fact]
    public async Task A_client_secret_from_Key_Vault_is_read_for_each_token_request_so_a_rotated_secret_is_used()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        vault.Set("oauth-client-secret", "first-secret-value", "text/plain");
        var client = new OAuthClient("bot-secret", ClientAuth.ClientSecretBasic) { Secret = "first-secret-value" };
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(client, settings: (s, _) => s
                .Set(TokenSetup.Profile, "Token:ClientSecret:Source", "KeyVault")
                .Set(TokenSetup.Profile, "Token:ClientSecret:Value", null)
                .Set(TokenSetup.Profile, "Token:ClientSecret:VaultUri", vault.VaultUri.ToString())
                .Set(TokenSetup.Profile, "Token:ClientSecret:Name", "oauth-client-secret"),
            time: time, host: b =>
            {
                b.Services.AddSingleton<Azure.Core.TokenCredential>(new StaticTokenCredential());
                vault.Register(b.Services);
            });
        await setup.AcceptedJtiAsync();

        // The partner rotates the secret, the operator puts the new one in the vault; the old token is refused.
        vault.Set("oauth-client-secret", "second-secret-value", "text/plain");
        setup.Server.Register(client with { Secret = "second-secret-value" });
        setup.Server.RevokeIssued();
        await setup.AcceptedJtiAsync();
        Assert.Equal(2, setup.Server.TokenRequests);

        vault.ForbidSecrets = true;
        setup.Server.RevokeIssued();
        time.Advance(TokenCache.ForcedRenewalInterval); // a refusal forces a new token at most once per interval
        // The refused token is dropped, and no new one comes without the secret: the retry cannot be made.
        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal("token-client-credential", problem.GetProperty("cause").GetString());
        Assert.Contains("Key Vault Secrets User", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("second-secret-value", setup.Host.Logs.All + problem);
    }

    [Fact]
    public async Task A_cached_token_serves_every_call_with_one_token_request()
    {
        await using var setup = await TokenSetup.StartAsync();
        var jtis = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            jtis.Add(await setup.AcceptedJtiAsync());
        }
        Assert.Single(jtis.Distinct());
        Assert.Equal(1, setup.Server.TokenRequests);
        Assert.Equal(5, setup.Server.Accepted.Count);
    }

    [Fact]
    public async Task Sixty_four_concurrent_cold_calls_share_one_token_request()
    {
        await using var setup = await TokenSetup.StartAsync();
        await setup.Host.ProfileHealthAsync(p => p.GetProperty("certificate").GetProperty("loaded").GetBoolean());
        setup.Server.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, 64).Select(_ => setup.Host.InvokeJsonAsync(new { method = "GET", url = setup.Server.Api() })).ToList();
        await Poll.UntilAsync(() => setup.Server.TokenRequests >= 1, "the token request to arrive");
        setup.Server.Gate.SetResult();
        var envelopes = await Task.WhenAll(calls);

        Assert.All(envelopes, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
        Assert.Equal(1, setup.Server.TokenRequests);
        Assert.Single(envelopes.Select(e => e.GetProperty("body").GetProperty("jti").GetString()).Distinct());
    }

    [Fact]
    public async Task The_token_is_renewed_ahead_of_expiry_in_the_background_and_calls_never_wait_for_it()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        var first = await setup.AcceptedJtiAsync();
        var health = await setup.TokenHealthAsync();
        Assert.Equal("valid", health.GetProperty("state").GetString());
        Assert.Equal(3600, health.GetProperty("expiresInSeconds").GetInt64());

        // Past three quarters of its life: the timer renews it. The renewal is held at the server; calls meanwhile use the cached token.
        setup.Server.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        time.Advance(TimeSpan.FromMinutes(46));
        await Poll.UntilAsync(() => setup.Server.TokenRequests == 2, "the background renewal to reach the token endpoint");
        Assert.Equal(first, await setup.AcceptedJtiAsync());
        Assert.Equal(first, await setup.AcceptedJtiAsync());

        setup.Server.Gate.SetResult();
        await Poll.LatestAsync(setup.TokenHealthAsync, h => h.GetProperty("expiresInSeconds").GetInt64() == 3600);
        var renewed = await setup.AcceptedJtiAsync();
        Assert.NotEqual(first, renewed);
        Assert.Equal(2, setup.Server.TokenRequests);
    }

    [Fact]
    public async Task A_token_without_expires_in_is_kept_five_minutes_and_health_says_the_endpoint_gave_no_lifetime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        setup.Server.OmitExpiresIn = true;
        var first = await setup.AcceptedJtiAsync();

        var health = await setup.TokenHealthAsync();
        Assert.False(health.GetProperty("expiresInGiven").GetBoolean());
        Assert.Equal(300, health.GetProperty("expiresInSeconds").GetInt64());
        time.Advance(TimeSpan.FromMinutes(4)); // past three quarters of the assumed life: renewed in the background
        await Poll.UntilAsync(() => setup.Server.TokenRequests == 2, "the renewal of a token kept 5 minutes");
        await Poll.LatestAsync(setup.TokenHealthAsync, h => h.GetProperty("expiresInSeconds").GetInt64() == 300);
        Assert.NotEqual(first, await setup.AcceptedJtiAsync());
    }

    [Fact]
    public async Task A_rotated_certificate_gets_a_new_token_bound_to_it()
    {
        await using var setup = await TokenSetup.StartAsync();
        var first = await setup.AcceptedJtiAsync();
        Assert.Equal(OAuthServer.X5tS256(Pki.ClientRsa), setup.Server.Seen.Single().PresentedThumbprint);

        // The same subject (tls_client_auth registers the subject), a new key and certificate.
        var rotated = Pki.Intermediate.IssueClient("bot-client-rsa");
        File.Delete(setup.PfxPath);
        setup.Files.Pfx(Path.GetFileName(setup.PfxPath), ProfileSettings.Password, rotated, Pki.IntermediatePublic);
        await setup.Host.Services.GetRequiredService<CertificateStore>().For(setup.Host.Services.GetRequiredService<ProfileCatalog>().Named(TokenSetup.Profile))
            .RefreshAsync(CancellationToken.None);

        var second = await setup.AcceptedJtiAsync(); // the API checks the binding against the new certificate on the connection
        Assert.NotEqual(first, second);
        Assert.Equal(2, setup.Server.TokenRequests);
        Assert.Equal(OAuthServer.X5tS256(rotated), setup.Server.Seen.Last().PresentedThumbprint);
        Assert.Equal(CertificateFacts.ThumbprintSha256(rotated), (await setup.TokenHealthAsync()).GetProperty("boundToCertificate").GetString());
    }

    [Theory]
    [InlineData("envelope")]
    [InlineData("passthrough")]
    public async Task A_refused_token_is_dropped_and_the_call_retried_once_with_a_new_one(string mode)
    {
        await using var setup = await TokenSetup.StartAsync();
        var first = await setup.AcceptedJtiAsync();
        setup.Server.RevokeIssued();

        using var response = await setup.Host.InvokeAsync(new { method = "POST", url = setup.Server.Api(), body = "{\"amount\":5}", response = mode });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var reply = JsonDocument.Parse(text);
        var answer = mode == "envelope" ? reply.RootElement.GetProperty("body") : reply.RootElement;
        if (mode == "envelope")
        {
            Assert.Equal(200, reply.RootElement.GetProperty("status").GetInt32()); // passthrough: the reply's own status, above
        }
        Assert.NotEqual(first, answer.GetProperty("jti").GetString());
        Assert.Equal("{\"amount\":5}", answer.GetProperty("body").GetString()); // the body went again, whole
        Assert.Equal("refreshed", response.Headers.GetValues(InvokerHeaders.Token).Single());
        Assert.Equal(2, setup.Server.TokenRequests);
        Assert.Equal(3, setup.Server.ApiCalls); // first call, the refused one, the retry: never more
    }

    [Fact]
    public async Task A_refused_token_on_a_streamed_forward_body_is_relayed_and_the_next_call_gets_a_new_token()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        await setup.AcceptedJtiAsync();
        setup.Server.RevokeIssued();

        using (var refused = await setup.Host.Client.PostAsync($"/api/forward/{TokenSetup.Profile}/accounts", new StringContent("{\"amount\":5}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("invalid_token", refused.Headers.WwwAuthenticate.ToString());
            Assert.Equal("not-retried", refused.Headers.GetValues(InvokerHeaders.Token).Single());
        }
        using (var retried = await setup.Host.Client.PostAsync($"/api/forward/{TokenSetup.Profile}/accounts", new StringContent("{\"amount\":5}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
            Assert.False(retried.Headers.Contains(InvokerHeaders.Token));
        }
        // A forward GET has no body to lose: it is retried in place (once the forced-renewal interval has passed).
        time.Advance(TokenCache.ForcedRenewalInterval);
        setup.Server.RevokeIssued();
        using var get = await setup.Host.Client.GetAsync($"/api/forward/{TokenSetup.Profile}/accounts");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("refreshed", get.Headers.GetValues(InvokerHeaders.Token).Single());
        Assert.Equal(3, setup.Server.TokenRequests);
    }

    [Fact]
    public async Task A_backend_that_keeps_refusing_the_token_gets_one_retry_and_its_401_is_the_answer()
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.RefuseAll = true;

        var envelope = await setup.InvokeAsync();

        Assert.Equal(401, envelope.GetProperty("status").GetInt32());
        Assert.Equal(2, setup.Server.ApiCalls);
        Assert.Equal(2, setup.Server.TokenRequests);
        // The new token was refused too: kept, as another forced renewal must wait ForcedRenewalInterval (the next call sends it).
        Assert.Equal("valid", (await setup.TokenHealthAsync()).GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_token_endpoint_nobody_listens_on_is_unreachable()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var closed = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var setup = await TokenSetup.StartAsync(settings: (s, _) => s
            .Set(TokenSetup.Profile, "Token:Endpoint", $"https://localhost:{closed}/oauth/token"));

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal("connection-refused", problem.GetProperty("cause").GetString());
        Assert.Contains($"localhost:{closed}", problem.GetProperty("detail").GetString());
    }

    public static TheoryData<string, string, string?, string> EndpointFailures => new()
    {
        { "invalid_client", "token-endpoint-error", "invalid_client", "401 invalid_client (\"Client authentication failed.\")" },
        { "invalid_scope", "token-endpoint-error", "invalid_scope", "Token:Scopes" },
        { "unauthorized_client", "token-endpoint-error", "unauthorized_client", "client credentials grant" },
        { "invalid_grant", "token-endpoint-error", "invalid_grant", "400 invalid_grant" },
        { "invalid_request", "token-endpoint-error", "invalid_request", "Missing parameter\\x0D\\x0AInjected: line" },
        { "html-503", "token-response-invalid", null, "answered 503 (text/html" },
        { "not-json-200", "token-response-invalid", null, "not a JSON object" },
        { "no-access-token", "token-response-invalid", null, "without an access_token" },
        { "dpop-token", "token-response-invalid", null, "not Bearer" },
    };

    [Theory]
    [MemberData(nameof(EndpointFailures))]
    public async Task Without_a_cached_token_every_endpoint_failure_is_a_502_token_unavailable_naming_what_it_said(
        string failure, string cause, string? tokenError, string detailPart)
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.TokenAnswer = failure switch
        {
            "invalid_client" => OAuthServer.Error("invalid_client", "Client authentication failed.", 401),
            "invalid_scope" => OAuthServer.Error("invalid_scope", "The requested scope is not allowed."),
            "unauthorized_client" => OAuthServer.Error("unauthorized_client"),
            "invalid_grant" => OAuthServer.Error("invalid_grant", "The grant is invalid."),
            "invalid_request" => OAuthServer.Error("invalid_request", "Missing parameter\r\nInjected: line"),
            "html-503" => c => { c.Response.StatusCode = 503; c.Response.ContentType = "text/html"; return c.Response.WriteAsync("<html>down</html>"); },
            "not-json-200" => c => { c.Response.ContentType = "text/html"; return c.Response.WriteAsync("<html>login</html>"); },
            "no-access-token" => c => c.Response.WriteAsJsonAsync(new { token_type = "Bearer", expires_in = 3600 }),
            _ => c => c.Response.WriteAsJsonAsync(new { access_token = "opaque-dpop-token-value", token_type = "DPoP", expires_in = 3600 }),
        };

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api(), timeoutSeconds = 3 });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);

        Assert.Equal(ErrorCodes.TokenUnavailable, response.Headers.GetValues(InvokerHeaders.Error).Single());
        Assert.Equal(cause, problem.GetProperty("cause").GetString());
        Assert.Equal(tokenError, problem.TryGetProperty("tokenError", out var e) ? e.GetString() : null);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(detailPart, detail);
        Assert.Contains(setup.Server.TokenEndpoint, detail);
        Assert.DoesNotContain("\n", detail); // the endpoint's own text cannot forge lines
        Assert.DoesNotContain("opaque-dpop-token-value", detail);
        Assert.Equal(0, setup.Server.ApiCalls); // no call went without its token
    }

    [Fact]
    public async Task A_token_endpoint_that_never_answers_within_the_profiles_timeout_is_a_response_timeout()
    {
        await using var setup = await TokenSetup.StartAsync(settings: (s, _) => s.Set(TokenSetup.Profile, "Timeout", "2"));
        setup.Server.TokenAnswer = c => Task.Delay(Timeout.Infinite, c.RequestAborted);
        using (var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() }))
        {
            var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
            Assert.Equal("response-timeout", problem.GetProperty("cause").GetString());
            // The call's deadline and the token request's are both the profile's 2 s: either may say so first.
            Assert.Matches("could not be asked for a token|No access token within the call's timeout of 2 s", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task While_the_endpoint_is_down_a_cached_token_serves_until_it_expires_and_health_says_so()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        var first = await setup.AcceptedJtiAsync();
        setup.Server.TokenAnswer = OAuthServer.Error("temporarily_unavailable", "Maintenance.", 503);

        time.Advance(TimeSpan.FromMinutes(46)); // the renewal fails
        var health = await setup.Host.ProfileHealthAsync(p => p.GetProperty("token").GetProperty("lastError").ValueKind == JsonValueKind.String);
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Equal("valid", health.GetProperty("token").GetProperty("state").GetString());
        Assert.Contains("temporarily_unavailable", health.GetProperty("token").GetProperty("lastError").GetString());
        Assert.Equal(first, await setup.AcceptedJtiAsync()); // still served

        time.Advance(TimeSpan.FromMinutes(15)); // past its expiry
        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api(), timeoutSeconds = 3 });
        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal("temporarily_unavailable", problem.GetProperty("tokenError").GetString());
        Assert.Contains("Maintenance.", problem.GetProperty("detail").GetString());
        health = await setup.Host.ProfileHealthAsync(p => p.GetProperty("status").GetString() == "unhealthy");
        Assert.Equal("expired", health.GetProperty("token").GetProperty("state").GetString());

        // The endpoint is back: the next call (after the short failure hold) gets a token again.
        setup.Server.TokenAnswer = null;
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.NotEqual(first, await setup.AcceptedJtiAsync());
    }

    [Fact]
    public async Task A_caller_Authorization_header_is_refused_for_a_token_profile_in_every_mode()
    {
        await using var setup = await TokenSetup.StartAsync();
        using (var response = await setup.Host.InvokeAsync(new
        {
            method = "GET",
            url = setup.Server.Api(),
            headers = new Dictionary<string, string> { ["Authorization"] = "Bearer caller-own-token" },
        }))
        {
            var problem = await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
            Assert.Equal("headers", problem.GetProperty("field").GetString());
            Assert.DoesNotContain("caller-own-token", problem.GetProperty("detail").GetString());
        }
        using var forward = new HttpRequestMessage(HttpMethod.Get, $"/api/forward/{TokenSetup.Profile}/accounts");
        forward.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "caller-own-token");
        using (var response = await setup.Host.Client.SendAsync(forward))
        {
            await InvokerHost.AssertProblemAsync(response, 400, ErrorCodes.InvalidRequest);
        }
        Assert.Equal(0, setup.Server.ApiCalls);
        Assert.Equal(0, setup.Server.TokenRequests);
    }

    [Fact]
    public async Task Health_shows_the_token_state_and_the_probe_asks_for_a_token_and_reads_its_binding()
    {
        await using var setup = await TokenSetup.StartAsync();
        var before = await setup.TokenHealthAsync();
        Assert.Equal("none", before.GetProperty("state").GetString());
        Assert.Equal(setup.Server.TokenEndpoint, before.GetProperty("endpoint").GetString());
        Assert.Equal("tls_client_auth", before.GetProperty("clientAuthentication").GetString());

        await setup.AcceptedJtiAsync();
        var after = await setup.TokenHealthAsync();
        Assert.Equal("valid", after.GetProperty("state").GetString());
        Assert.Equal(CertificateFacts.ThumbprintSha256(Pki.ClientRsa), after.GetProperty("boundToCertificate").GetString());
        Assert.Equal(1, after.GetProperty("requests").GetInt64());
        Assert.Equal(JsonValueKind.String, after.GetProperty("nextRefresh").ValueKind);

        var probe = await setup.Host.ProbeAsync(TokenSetup.Profile);
        Assert.True(probe.GetProperty("ok").GetBoolean(), probe.ToString());
        var token = probe.GetProperty("token");
        Assert.True(token.GetProperty("ok").GetBoolean());
        Assert.Equal("bound", token.GetProperty("binding").GetString());
        Assert.Contains("bound to our client certificate", token.GetProperty("summary").GetString());
        Assert.Equal(2, setup.Server.TokenRequests);

        setup.Server.TokenAnswer = OAuthServer.Error("invalid_client", "Unknown certificate.", 401);
        probe = await setup.Host.ProbeAsync(TokenSetup.Profile);
        Assert.False(probe.GetProperty("ok").GetBoolean());
        Assert.Equal("invalid_client", probe.GetProperty("token").GetProperty("tokenError").GetString());
        Assert.Contains("registered for tls_client_auth", probe.GetProperty("token").GetProperty("summary").GetString());
    }

    [Fact]
    public async Task Tokens_secrets_and_assertions_never_reach_logs_or_replies()
    {
        const string secret = "client-secret-value-0123456789";
        await using var setup = await TokenSetup.StartAsync(new OAuthClient("bot-secret", ClientAuth.ClientSecretBasic) { Secret = secret });
        await setup.AcceptedJtiAsync();
        setup.Server.RevokeIssued();
        await setup.AcceptedJtiAsync(); // a refusal and a retry
        await setup.Host.ProbeAsync(TokenSetup.Profile);
        setup.Server.TokenAnswer = c => c.Response.WriteAsJsonAsync(new { access_token = "leaky-token-in-a-bad-answer", token_type = "DPoP" });
        setup.Server.RevokeIssued();
        using var failed = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });
        var reply = await failed.Content.ReadAsStringAsync();
        var health = (await setup.Host.HealthAsync()).ToString();
        using var view = new HttpRequestMessage(HttpMethod.Get, "/api/profiles") { Headers = { { "x-functions-key", InvokerHost.AdminKey } } };
        using var admin = new HttpClient { BaseAddress = setup.Host.Client.BaseAddress };
        using var viewed = await admin.SendAsync(view);
        var configuration = await viewed.Content.ReadAsStringAsync();
        Assert.Contains("\"clientAuthentication\":\"client_secret_basic\"", configuration); // the admin view shows the token source…
        Assert.Contains("\"value\":\"(set)\"", configuration);                               // …and that a secret is set, not the secret
        health += configuration;

        var issued = setup.Server.AuthorizationSeen.Where(a => a.StartsWith("Bearer ", StringComparison.Ordinal)).Select(a => a["Bearer ".Length..]).Distinct().ToList();
        Assert.True(issued.Count >= 2);
        var everything = setup.Host.Logs.All + reply + health;
        foreach (var value in issued.Append(secret).Append("leaky-token-in-a-bad-answer"))
        {
            Assert.DoesNotContain(value, everything);
            Assert.DoesNotContain(value[^Math.Min(24, value.Length)..], everything); // not even its signature's tail
        }
        Assert.Contains("Access token for profile 'payments' obtained", setup.Host.Logs.All); // the log does say what happened
    }
}
