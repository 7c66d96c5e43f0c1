using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Tests.Tokens;

namespace ServiceNodeInvoker.Tests.Security;

/// <summary>
/// The token source against parties that turn on it: a token endpoint that answers tokens built to inject headers or
/// smuggle a request under our certificate, or that repeats our credentials in its errors, or drips its answer; a
/// caller who tries to reach the token endpoint through the invoker to mint tokens of its own; a backend that refuses
/// every token; a backend whose header line is 16 KB long. Over real mutual TLS (<see cref="OAuthServer"/>,
/// <see cref="RawTlsBackend"/>).
/// </summary>
public sealed class HostileTokenPartiesTests
{
    private const int Overlong = TokenLengthLimit + 1;
    private const int TokenLengthLimit = 8 * 1024;

    public static TheoryData<string, string, string> HostileTokens => new()
    {
        // name, the access_token the endpoint answers, what the reply says about it
        { "CRLF header injection", "tok\r\nX-Injected: yes", "it holds a carriage return (CR) at position 3" },
        { "request smuggling", "tok\r\nContent-Length: 0\r\n\r\nPOST /smuggled-payment HTTP/1.1\r\nHost: x\r\n\r\n", "it holds a carriage return (CR) at position 3" },
        { "bare LF", "tok\nX-Injected: yes", "it holds a line feed (LF) at position 3" },
        { "NUL", "tok\0en", "it holds a NUL at position 3" },
        { "non-ASCII", "tökén", "it holds a non-ASCII character (U+00F6) at position 1" },
        { "space", "two words", "it holds a space at position 3" },
        { "quote", "tok\"en", "it holds '\"' at position 3" },
        { "padding in the middle", "abc=def", "a character follows its '=' padding at position 4" },
        { "overlong", new string('a', Overlong), $"it is {Overlong} characters long, more than the {TokenLengthLimit} sent" },
    };

    [Theory]
    [MemberData(nameof(HostileTokens))]
    public async Task A_token_that_is_no_RFC_6750_b64token_is_refused_never_cached_never_sent(string name, string token, string said)
    {
        _ = name;
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.TokenAnswer = c => c.Response.WriteAsJsonAsync(new { access_token = token, token_type = "Bearer", expires_in = 3600 });

        for (var call = 0; call < 2; call++)
        {
            using var response = await setup.Host.InvokeAsync(new { method = "POST", url = setup.Server.Api("/api/payments"), body = new { amount = 1 } });
            var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
            Assert.Equal("token-response-invalid", problem.GetProperty("cause").GetString());
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains($"an access_token that cannot be sent: {said}.", detail);
            Assert.DoesNotContain("Injected", detail);
        }

        Assert.Equal(0, setup.Server.ApiCalls); // nothing was sent to the partner, let alone a second request
        Assert.Equal("none", (await setup.TokenHealthAsync()).GetProperty("state").GetString()); // nothing cached
        Assert.DoesNotContain("X-Injected", setup.Host.Logs.All);
        Assert.DoesNotContain("smuggled", setup.Host.Logs.All);
    }

    [Fact]
    public async Task The_longest_token_accepted_goes_out_whole()
    {
        await using var setup = await TokenSetup.StartAsync();
        var longest = new string('A', TokenLengthLimit - 2) + "==";
        setup.Server.TokenAnswer = c => c.Response.WriteAsJsonAsync(new { access_token = longest, token_type = "Bearer", expires_in = 3600 });

        var envelope = await setup.InvokeAsync();

        Assert.Equal(401, envelope.GetProperty("status").GetInt32()); // the API does not know it, but it arrived as sent
        Assert.Contains($"Bearer {longest}", setup.Server.AuthorizationSeen);
    }

    [Fact]
    public async Task A_scope_that_is_not_scope_tokens_is_refused()
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.TokenAnswer = c => c.Response.WriteAsJsonAsync(new { access_token = "good-token", token_type = "Bearer", expires_in = 3600, scope = "read\r\nX-Forged: 1" });

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Contains("a scope that is not a list of RFC 6749 scope tokens", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("X-Forged", setup.Host.Logs.All);
        Assert.Equal(0, setup.Server.ApiCalls);
    }

    public static TheoryData<string, string> TokenUrlSpellings => new()
    {
        { "envelope", "/oauth/token" },
        { "envelope", "/./oauth/token?x=1" },
        { "envelope", "//oauth//token" },
        { "envelope", "/OAUTH/TOKEN" },
        { "envelope", "/oauth/token/" },
        { "envelope", "/oauth%2Ftoken" },
        { "envelope", "/oauth/token;jsessionid=1" },
        { "envelope", "/api/../oauth/token" },
        { "passthrough", "/oauth/token" },
        { "passthrough", "/%6Fauth/token" },
    };

    [Theory]
    [MemberData(nameof(TokenUrlSpellings))]
    public async Task A_caller_can_never_reach_the_token_endpoint_however_the_URL_is_spelt(string mode, string path)
    {
        await using var setup = await TokenSetup.StartAsync();
        foreach (var named in new[] { null, TokenSetup.Profile })
        {
            using var response = await setup.Host.InvokeAsync(new
            {
                profile = named,
                method = "POST",
                url = $"https://localhost:{setup.Server.TokenPort}{path}",
                headers = new Dictionary<string, string> { ["Content-Type"] = "application/x-www-form-urlencoded" },
                body = "grant_type=client_credentials&client_id=bot-platform&scope=admin",
                response = mode,
            });

            var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains($"localhost:{setup.Server.TokenPort} is a profile's token endpoint", detail);
            Assert.Contains("callers may not call it", detail);
            Assert.DoesNotContain("payments", detail); // a caller without a grant learns no profile's name
        }
        Assert.Equal(0, setup.Server.TokenRequests);
    }

    [Theory]
    [InlineData("LOCALHOST")]
    [InlineData("localhost.")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task Another_spelling_of_the_token_endpoints_host_is_refused_too(string host)
    {
        await using var setup = await TokenSetup.StartAsync();

        using var response = await setup.Host.InvokeAsync(new
        {
            method = "POST",
            url = $"https://{host}:{setup.Server.TokenPort}/oauth/token",
            headers = new Dictionary<string, string> { ["Content-Type"] = "application/x-www-form-urlencoded" },
            body = "grant_type=client_credentials&client_id=bot-platform&scope=admin",
        });

        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains("is a profile's token endpoint", problem.GetProperty("detail").GetString());
        Assert.Equal(0, setup.Server.TokenRequests);
    }

    [Fact]
    public async Task Two_profiles_may_share_one_authorization_server()
    {
        await using var setup = await TokenSetup.StartAsync(settings: (s, server) => s
            .Set("second", "Hosts:0", $"127.0.0.1:{server.Port}")
            .Set("second", "ClientCertificate:Source", "File")
            .Set("second", "ClientCertificate:Path", s.Settings[$"Invoker:Profiles:{TokenSetup.Profile}:ClientCertificate:Path"])
            .Set("second", "ClientCertificate:Password", ProfileSettings.Password)
            .Set("second", "TrustedCa:Source", "File")
            .Set("second", "TrustedCa:Path", s.Settings[$"Invoker:Profiles:{TokenSetup.Profile}:TrustedCa:Path"])
            .Set("second", "Token:Endpoint", server.TokenEndpoint)
            .Set("second", "Token:ClientId", "bot-platform")
            .Set("second", "Token:Scopes:0", "payments:write")
            .Set("second", "Token:ClientAuthentication", "TlsClientAuth"));

        Assert.Equal("payments:read", (await setup.InvokeAsync()).GetProperty("body").GetProperty("scope").GetString());
        var second = await setup.Host.InvokeJsonAsync(new { method = "GET", url = $"https://127.0.0.1:{setup.Server.Port}/api/accounts" });

        Assert.Equal(200, second.GetProperty("status").GetInt32());
        Assert.Equal("second", second.GetProperty("profile").GetString());
        Assert.Equal("payments:write", second.GetProperty("body").GetProperty("scope").GetString());
        Assert.Equal(2, setup.Server.TokenRequests); // one token per profile, from the one authorization server
    }

    public static TheoryData<string> Echoes =>
    [
        "secret", "secret-url-encoded", "basic-value", "secret-part", "assertion", "assertion-signature",
        "error-code", "chunks-of-7", "upper-case", "base64", "zero-width-interleaved", "content-type", "scope",
    ];

    [Theory]
    [MemberData(nameof(Echoes))]
    public async Task A_token_endpoint_that_repeats_our_credentials_has_them_withheld_everywhere(string echo)
    {
        const string secret = "s3cret/with:odd+chars-0123456789";
        var assertion = echo.StartsWith("assertion", StringComparison.Ordinal);
        var client = assertion
            ? new OAuthClient("bot-jwt", ClientAuth.PrivateKeyJwt) { Certificate = TestPki.Instance.ClientRsa }
            : new OAuthClient("bot-secret", ClientAuth.ClientSecretBasic) { Secret = secret };
        await using var setup = await TokenSetup.StartAsync(client);
        var repeated = new System.Collections.Concurrent.ConcurrentBag<string>();
        setup.Server.TokenAnswer = async c =>
        {
            var form = await c.Request.ReadFormAsync();
            var value = echo switch
            {
                "secret" or "error-code" or "content-type" or "scope" => secret,
                "secret-url-encoded" => Uri.EscapeDataString(secret),
                "basic-value" => c.Request.Headers.Authorization.ToString(),
                "secret-part" => secret[3..20],
                "assertion" => form["client_assertion"].ToString(),
                "assertion-signature" => form["client_assertion"].ToString().Split('.')[2],
                "chunks-of-7" => string.Join(" | ", secret.Chunk(7).Select(p => new string(p))),
                "upper-case" => secret.ToUpperInvariant(),
                "base64" => Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)),
                _ => string.Join("\u200B", secret.ToCharArray()),
            };
            repeated.Add(value);
            if (echo == "content-type")
            {
                c.Response.ContentType = $"text/x-{value.Replace("/", "", StringComparison.Ordinal).Replace(":", "", StringComparison.Ordinal).Replace("+", "", StringComparison.Ordinal)}";
                await c.Response.WriteAsync("<html>no</html>");
                return;
            }
            if (echo == "scope")
            {
                await c.Response.WriteAsJsonAsync(new { access_token = "good-token", token_type = "Bearer", expires_in = 3600, scope = $"payments:read {value}" });
                return;
            }
            c.Response.StatusCode = 401;
            await c.Response.WriteAsJsonAsync(new Dictionary<string, string>
            {
                ["error"] = echo == "error-code" ? value : "invalid_client",
                ["error_description"] = $"bad credentials {client.Id}:{value}",
                ["error_uri"] = $"https://as.example/errors?got={Uri.EscapeDataString(value)}",
            });
        };

        using var failed = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });
        var problem = await InvokerHost.AssertProblemAsync(failed, 502, ErrorCodes.TokenUnavailable);
        if (echo is not ("error-code" or "content-type" or "scope"))
        {
            Assert.Equal("invalid_client", problem.GetProperty("tokenError").GetString());
        }
        Assert.False(problem.TryGetProperty("tokenError", out var code) && code.GetString() == secret);

        var probe = (await setup.Host.ProbeAsync(TokenSetup.Profile)).ToString();
        var callerHealth = (await setup.Host.HealthAsync()).ToString();
        var adminHealth = await AdminGetAsync(setup, "/api/health");
        var adminView = await AdminGetAsync(setup, "/api/profiles");
        var everything = problem + probe + callerHealth + adminHealth + adminView + setup.Host.Logs.All;
        Assert.Contains("lastError", callerHealth);
        Assert.NotEmpty(repeated);
        foreach (var value in repeated.Distinct().Append(secret))
        {
            Assert.DoesNotContain(value, everything);
            Assert.DoesNotContain(Uri.EscapeDataString(value), everything);
        }
        Assert.DoesNotContain(secret.ToUpperInvariant(), everything);
        Assert.DoesNotContain("0123456", everything); // no chunk of it, in any form
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)), everything);
    }

    [Fact]
    public async Task A_token_endpoint_that_repeats_our_secret_in_a_broken_header_line_has_it_withheld()
    {
        const string secret = "s3cret/with:odd+chars-0123456789";
        await using var raw = new RawTlsBackend(_ => RawReply.Of($"HTTP/1.1 200 OK\nX-Echo {secret}\nContent-Length: 2", "{}"u8.ToArray()));
        await using var setup = await TokenSetup.StartAsync(new OAuthClient("bot-secret", ClientAuth.ClientSecretBasic) { Secret = secret },
            settings: (s, _) => s.Set(TokenSetup.Profile, "Token:Endpoint", $"https://localhost:{raw.Port}/oauth/token"));

        using var failed = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });

        var problem = await InvokerHost.AssertProblemAsync(failed, 502, ErrorCodes.TokenUnavailable);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.True(detail.Contains("[redacted]", StringComparison.Ordinal) || detail.Contains("[withheld", StringComparison.Ordinal), detail); // .NET quotes the line up to its colon: a part of the secret
        Assert.DoesNotContain(secret, problem + (await setup.Host.HealthAsync()).ToString() + setup.Host.Logs.All);
        Assert.Single(raw.Requests); // a broken answer is the endpoint's doing: not asked again
    }

    [Fact]
    public async Task A_backend_that_refuses_every_token_gets_a_bounded_number_of_token_requests()
    {
        // The forced-renewal interval (30 s) on a clock of the test's: twenty calls on a loaded machine can take longer than
        // 30 s of wall clock, and a second renewal then is what the product should do, not a failure of it.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        setup.Server.RefuseAll = true;

        var notes = new List<string>();
        for (var call = 0; call < 20; call++)
        {
            using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });
            var envelope = await InvokerHost.ReadAsync(response, 200);
            Assert.Equal(401, envelope.GetProperty("status").GetInt32()); // the backend's answer, relayed
            notes.Add(response.Headers.GetValues(InvokerHeaders.Token).Single());
        }

        // One forced renewal per 30 s: the first call's retry, then the refused token's 401 relayed, saying the retry was skipped.
        Assert.Equal(2, setup.Server.TokenRequests);
        Assert.Equal(21, setup.Server.ApiCalls);
        Assert.Equal("refreshed", notes[0]);
        Assert.All(notes.Skip(1), n => Assert.Equal("retry-skipped", n));
        Assert.Single(setup.Host.Logs.Lines, l => l.Contains("within 30 s of a forced renewal", StringComparison.Ordinal));
        var health = await setup.Host.ProfileHealthAsync(p => true);
        Assert.Equal("degraded", health.GetProperty("status").GetString()); // not "healthy" while every call is refused
        Assert.Equal(JsonValueKind.String, health.GetProperty("token").GetProperty("refusedByBackendAt").ValueKind);
    }

    [Fact]
    public async Task Concurrent_refusals_of_one_token_share_one_renewal()
    {
        await using var setup = await TokenSetup.StartAsync();
        await setup.AcceptedJtiAsync();
        setup.Server.RevokeIssued();

        var calls = Enumerable.Range(0, 16).Select(_ => setup.InvokeAsync()).ToList();
        var envelopes = await Task.WhenAll(calls);

        Assert.All(envelopes, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
        Assert.Equal(2, setup.Server.TokenRequests); // the first token, and one renewal for all sixteen refusals
    }

    [Theory]
    [InlineData("timeoutSeconds")]
    [InlineData("invoker-timeout")]
    public async Task The_callers_deadline_covers_the_wait_for_a_dripping_token_endpoint(string how)
    {
        await using var setup = await TokenSetup.StartAsync();
        using var stop = new CancellationTokenSource();
        setup.Server.TokenAnswer = async c =>
        {
            // A byte at a time, never finishing within the profile's 30 s.
            c.Response.ContentType = "application/json";
            await c.Response.StartAsync();
            foreach (var b in "{\"access_token\":\"slow"u8.ToArray())
            {
                await c.Response.Body.WriteAsync(new[] { b }, c.RequestAborted);
                await c.Response.Body.FlushAsync(c.RequestAborted);
                await Task.Delay(1000, c.RequestAborted);
            }
        };
        var watch = Stopwatch.StartNew();
        HttpResponseMessage response;
        if (how == "timeoutSeconds")
        {
            response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api(), timeoutSeconds = 2 });
        }
        else
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/forward/{TokenSetup.Profile}/accounts");
            request.Headers.Add("invoker-timeout", "2");
            response = await setup.Host.Client.SendAsync(request);
        }
        using (response)
        {
            var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"answered after {watch.Elapsed}, not by the call's 2 s deadline");
            // Health says calls wait for a token that has not come (it would say "healthy" until the request timed out).
            var health = await setup.Host.ProfileHealthAsync(p => p.GetProperty("status").GetString() == "degraded");
            Assert.Equal("degraded", health.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.String, health.GetProperty("token").GetProperty("requestingSince").ValueKind);
            Assert.Equal("response-timeout", problem.GetProperty("cause").GetString());
            Assert.Contains("within the call's timeout of 2 s", problem.GetProperty("detail").GetString());
        }
        Assert.Equal(0, setup.Server.ApiCalls);
    }

    [Fact]
    public async Task A_throttled_token_endpoint_is_asked_again_after_its_Retry_After_while_the_call_waits()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        setup.Server.ThrottleRetryAfter = "3";
        setup.Server.ThrottleNext = 1;

        var call = setup.InvokeAsync();
        var health = await setup.Host.ProfileHealthAsync(p => p.GetProperty("token").GetProperty("retryAt").ValueKind == JsonValueKind.String);
        Assert.Equal("token-endpoint-throttled", health.GetProperty("token").GetProperty("lastErrorCause").GetString());
        var wait = health.GetProperty("token").GetProperty("retryAt").GetDateTimeOffset() - time.GetUtcNow();
        Assert.InRange(wait, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4.5)); // its Retry-After, plus at most half of it
        time.Advance(wait - TimeSpan.FromSeconds(0.1));
        Assert.Equal(1, setup.Server.TokenRequests); // not before then
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.2));
        var envelope = await call;

        Assert.Equal(200, envelope.GetProperty("status").GetInt32());
        Assert.Equal(2, setup.Server.TokenRequests);
    }

    [Fact]
    public async Task A_throttled_token_endpoint_past_the_deadline_is_a_502_saying_it_throttles_with_Retry_After()
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.ThrottleRetryAfter = "1";
        setup.Server.ThrottleNext = int.MaxValue;

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api(), timeoutSeconds = 3 });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal("token-endpoint-throttled", problem.GetProperty("cause").GetString());
        Assert.Contains("is throttling our token requests (429 Too Many Requests, retry after 1 s)", problem.GetProperty("detail").GetString());
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        Assert.InRange(setup.Server.TokenRequests, 2, 4); // asked again after each Retry-After within the 3 s, no more
    }

    [Fact]
    public async Task A_storm_of_new_instances_against_a_throttling_token_endpoint_is_answered_in_full()
    {
        // Six instances start at once, each with two token profiles on one authorization server that serves 5 token
        // requests a second (429, Retry-After: 1 beyond it); every profile is called twice at once on every instance.
        await using var server = await OAuthServer.StartAsync(TokenSetup.TlsClient());
        server.RateLimitPerSecond = 5;
        using var files = new TempFiles();
        var hosts = new List<InvokerHost>();
        try
        {
            // One set of files for every instance (each instance reads them as it starts).
            var settings = ProfileSettings.Standard(files, server.Port, "a").Add("b", server.Port, null, null, host: "127.0.0.1");
            foreach (var (key, value) in settings.Settings.Where(s => s.Key.StartsWith("Invoker:Profiles:a:", StringComparison.Ordinal) && !s.Key.Contains(":Hosts:", StringComparison.Ordinal)).ToList())
            {
                settings.Settings[key.Replace(":a:", ":b:", StringComparison.Ordinal)] = value;
            }
            foreach (var profile in new[] { "a", "b" })
            {
                settings.Set(profile, "Token:Endpoint", server.TokenEndpoint).Set(profile, "Token:ClientId", "bot-platform")
                    .Set(profile, "Token:ClientAuthentication", "TlsClientAuth");
            }
            for (var i = 0; i < 6; i++)
            {
                hosts.Add(await InvokerHost.StartAsync(settings.Settings));
            }
            foreach (var host in hosts)
            {
                await host.ProfileHealthAsync(p => p.GetProperty("certificate").GetProperty("loaded").GetBoolean(), "a");
                await host.ProfileHealthAsync(p => p.GetProperty("certificate").GetProperty("loaded").GetBoolean(), "b");
            }

            var calls = hosts.SelectMany(h => new[] { $"https://localhost:{server.Port}/api/accounts", $"https://127.0.0.1:{server.Port}/api/accounts" }
                .SelectMany(url => new[] { url, url }).Select(url => h.InvokeJsonAsync(new { method = "GET", url }))).ToList();
            var envelopes = await Task.WhenAll(calls);

            Assert.All(envelopes, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
            const int minimal = 6 * 2; // one token per profile per instance
            Assert.True(server.TokenRequests <= 2 * minimal,
                $"{server.TokenRequests} token requests ({server.TokenRequestsThrottled} refused) for {minimal} tokens: the retries amplified the storm");
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_Retry_After_of_zero_cannot_make_us_ask_in_a_loop()
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.ThrottleRetryAfter = "0";
        setup.Server.ThrottleNext = int.MaxValue;

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api(), timeoutSeconds = 3 });

        await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.InRange(setup.Server.TokenRequests, 2, 4); // at least 1 s between tries, whatever the endpoint says
    }

    [Fact]
    public async Task A_token_that_lives_one_second_is_not_renewed_every_second()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var setup = await TokenSetup.StartAsync(time: time);
        setup.Server.ExpiresInSeconds = 1;

        await setup.AcceptedJtiAsync();

        var token = await setup.TokenHealthAsync();
        var next = token.GetProperty("nextRefresh").GetDateTimeOffset() - token.GetProperty("lastRefresh").GetDateTimeOffset();
        Assert.True(next >= TokenCache.MinRenewal, $"renewed {next} after it was obtained");
    }

    [Theory]
    [InlineData(401, "invalid_client")]
    [InlineData(400, "invalid_scope")]
    [InlineData(403, "access_denied")]
    public async Task A_definitive_refusal_is_answered_at_once_and_not_asked_again(int status, string error)
    {
        await using var setup = await TokenSetup.StartAsync();
        setup.Server.TokenAnswer = OAuthServer.Error(error, "No.", status);

        using var response = await setup.Host.InvokeAsync(new { method = "GET", url = setup.Server.Api() });

        await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TokenUnavailable);
        Assert.Equal(1, setup.Server.TokenRequests);
        Assert.False(response.Headers.Contains("Retry-After"));
    }

    [Fact]
    public async Task A_16_KB_header_line_from_a_backend_is_quoted_capped()
    {
        var line = "X-Huge " + new string('A', 16 * 1024);
        await using var backend = new RawTlsBackend(_ => RawReply.Of($"HTTP/1.1 200 OK\n{line}\nContent-Length: 2", "ok"u8.ToArray()));
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);

        foreach (var mode in new[] { "envelope", "passthrough" })
        {
            using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}x", response = mode });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode >= 500, text);
            Assert.True(text.Length < 2048, $"a {text.Length}-character reply");
            Assert.Contains("characters)", text); // the cut is marked, with the full length
        }
        Assert.DoesNotContain(new string('A', 1024), host.Logs.All);
    }

    private static async Task<string> AdminGetAsync(TokenSetup setup, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "x-functions-key", InvokerHost.AdminKey } } };
        using var admin = new HttpClient { BaseAddress = setup.Host.Client.BaseAddress };
        using var response = await admin.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }
}
