using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>How a registered client authenticates to <see cref="OAuthServer"/>.</summary>
public enum ClientAuth { TlsClientAuth, SelfSignedTlsClientAuth, PrivateKeyJwt, ClientSecretBasic }

/// <summary>A client registered with <see cref="OAuthServer"/>: by certificate subject (tls_client_auth), certificate (self-signed, private_key_jwt) or secret.</summary>
public sealed record OAuthClient(string Id, ClientAuth Method)
{
    public string? SubjectDn { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public string? Secret { get; init; }
    public IReadOnlyList<string> AllowedScopes { get; init; } = ["payments:read", "payments:write"];
}

/// <summary>What one token request carried (no secrets): for tests to assert on.</summary>
public sealed record TokenRequestSeen(string? ClientId, string Method, string? Scope, string? Audience, string? Resource, string? PresentedThumbprint, string? AssertionAlgorithm);

/// <summary>
/// A mutual-TLS authorization server and resource server in one Kestrel app on loopback, as FAPI-style partners run
/// them: the token endpoint on a port of its own (<see cref="TokenPort"/>, as an RFC 8705 mTLS endpoint alias would be),
/// the API on <see cref="Port"/>. <c>POST /oauth/token</c> takes the client credentials grant, authenticates the client by RFC 8705
/// (<c>tls_client_auth</c>: the presented certificate chains to the test root and has the registered subject;
/// <c>self_signed_tls_client_auth</c>: it is the registered certificate), RFC 7523 <c>private_key_jwt</c> (validated
/// with Microsoft.IdentityModel, not our code) or <c>client_secret_basic</c>, and issues an ES256 JWT with
/// <c>cnf.x5t#S256</c> of the presented certificate — or any RFC 6749 §5.2 error, or a broken answer, on demand.
/// <c>/api/**</c> accepts a Bearer token only over a connection that presents the certificate it is bound to; a
/// refused token gets <c>401 WWW-Authenticate: Bearer error="invalid_token"</c>.
/// </summary>
public sealed class OAuthServer : IAsyncDisposable
{
    public const string Issuer = "https://as.test";
    private readonly WebApplication _app;
    private readonly ECDsaSecurityKey _signingKey = new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "as-1" };
    private readonly ConcurrentDictionary<string, OAuthClient> _clients = new();
    private readonly ConcurrentDictionary<string, byte> _revoked = new();
    private readonly ConcurrentDictionary<string, byte> _assertionIds = new();
    private int _tokenRequests;
    private int _apiCalls;

    private OAuthServer(WebApplication app) => _app = app;

    /// <summary>The API's port (the resource server).</summary>
    public int Port { get; private set; }

    /// <summary>The token endpoint's port: only the token endpoint answers there.</summary>
    public int TokenPort { get; private set; }

    public string TokenEndpoint => $"https://localhost:{TokenPort}/oauth/token";

    public string Api(string path = "/api/accounts") => $"https://localhost:{Port}{path}";

    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    public int ApiCalls => Volatile.Read(ref _apiCalls);

    public ConcurrentQueue<TokenRequestSeen> Seen { get; } = new();

    /// <summary>The jti of each token the API accepted, in order.</summary>
    public ConcurrentQueue<string> Accepted { get; } = new();

    /// <summary>The Authorization header values the API received (for "the caller's own header never arrives").</summary>
    public ConcurrentQueue<string> AuthorizationSeen { get; } = new();

    /// <summary>Token lifetime sent as expires_in.</summary>
    public int ExpiresInSeconds { get; set; } = 3600;

    public bool OmitExpiresIn { get; set; }

    /// <summary>The API refuses every token (401 invalid_token), as a backend whose key rollover went wrong would.</summary>
    public bool RefuseAll { get; set; }

    /// <summary>When set, the token endpoint answers this instead of a token (an RFC 6749 error, or a broken answer).</summary>
    public Func<HttpContext, Task>? TokenAnswer { get; set; }

    /// <summary>
    /// When set, the token endpoint serves at most this many requests per second (a fixed window of the wall clock)
    /// and answers 429 with <c>Retry-After: 1</c> beyond it, as Entra ID and most authorization servers throttle.
    /// </summary>
    public int? RateLimitPerSecond { get; set; }

    /// <summary>Token requests answered 429 (by the rate limit or <see cref="ThrottleNext"/>).</summary>
    public int TokenRequestsThrottled => Volatile.Read(ref _throttled);

    private int _throttled;
    private readonly Lock _window = new();
    private long _windowSecond;
    private int _windowCount;

    /// <summary>The next this many token requests are answered 429 with <see cref="ThrottleRetryAfter"/> (a throttling authorization server).</summary>
    public int ThrottleNext;

    /// <summary>The Retry-After of a throttled answer (null: none sent).</summary>
    public string? ThrottleRetryAfter { get; set; } = "1";

    /// <summary>
    /// A request limit shared with other servers (the storm bench's one authorization server behind several addresses): beyond
    /// it, 429 with Retry-After. <see cref="RateLimitPerSecond"/> is this server's own.
    /// </summary>
    public RateLimit? Limit { get; set; }

    /// <summary>When set, token requests wait for it before answering (to pile up concurrent callers).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public static async Task<OAuthServer> StartAsync(params OAuthClient[] clients)
    {
        var pki = TestPki.Instance;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear(); // no appsettings.json watchers: many fakes at once must not use up inotify instances
        builder.Logging.ClearProviders();
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = pki.Server,
            ServerCertificateChain = pki.Intermediate.Intermediates(),
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            // Which certificate is acceptable depends on the client and the route: decided by the app below.
            ClientCertificateValidation = (_, _, _) => true,
            CheckCertificateRevocation = false,
        };
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https));
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https));
        });
        var app = builder.Build();
        var server = new OAuthServer(app);
        foreach (var client in clients)
        {
            server._clients[client.Id] = client;
        }
        // Each port serves its own routes only: a request for the token path on the API's port finds nothing.
        app.Use((context, next) =>
        {
            var tokenPort = context.Connection.LocalPort == server.TokenPort;
            if (tokenPort != context.Request.Path.StartsWithSegments("/oauth/token"))
            {
                context.Response.StatusCode = 404;
                return Task.CompletedTask;
            }
            return next(context);
        });
        app.MapPost("/oauth/token", server.TokenAsync);
        app.Map("/api/{**rest}", server.ApiAsync);
        // A route that checks nothing: the token benchmark's backend work, the same with and without a token.
        app.MapGet("/open", () => Results.Json(new { ok = true }));
        await app.StartAsync();
        var ports = app.Urls.Select(u => new Uri(u).Port).ToList(); // in the order the listeners were added
        server.Port = ports[0];
        server.TokenPort = ports[1];
        return server;
    }

    public void Register(OAuthClient client) => _clients[client.Id] = client;

    /// <summary>Every token issued so far is refused by the API from now on (a revocation, or a key rollover at the server).</summary>
    public void RevokeIssued()
    {
        foreach (var jti in _issued.Keys)
        {
            _revoked[jti] = 0;
        }
    }

    private readonly ConcurrentDictionary<string, byte> _issued = new();

    public static string X5tS256(X509Certificate2 certificate) => Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));

    /// <summary>An RFC 6749 §5.2 error answer.</summary>
    public static Func<HttpContext, Task> Error(string error, string? description = null, int status = 400) => context =>
    {
        context.Response.StatusCode = status;
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(description is null
            ? new Dictionary<string, string> { ["error"] = error }
            : new Dictionary<string, string> { ["error"] = error, ["error_description"] = description });
    };

    private async Task TokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _tokenRequests);
        if (Limit is { } shared && !shared.TryTake())
        {
            await shared.RefuseAsync(context.Response, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"Too many requests.\"}");
            return;
        }
        if (Gate is { } gate)
        {
            await gate.Task;
        }
        bool overLimit;
        lock (_window)
        {
            var second = Environment.TickCount64 / 1000;
            if (second != _windowSecond)
            {
                (_windowSecond, _windowCount) = (second, 0);
            }
            overLimit = RateLimitPerSecond is { } limit && ++_windowCount > limit;
        }
        if (overLimit)
        {
            Interlocked.Increment(ref _throttled);
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "1";
            return;
        }
        if (Interlocked.Decrement(ref ThrottleNext) >= 0)
        {
            Interlocked.Increment(ref _throttled);
            context.Response.StatusCode = 429;
            if (ThrottleRetryAfter is { } after)
            {
                context.Response.Headers.RetryAfter = after;
            }
            return;
        }
        Interlocked.Exchange(ref ThrottleNext, 0);
        var form = await context.Request.ReadFormAsync();
        var presented = context.Connection.ClientCertificate;
        var basic = Basic(context.Request.Headers.Authorization.ToString());
        var assertion = (string?)form["client_assertion"];
        var clientId = basic?.Id ?? (string?)form["client_id"];
        Seen.Enqueue(new TokenRequestSeen(clientId, basic is not null ? "client_secret_basic" : assertion is not null ? "private_key_jwt" : "tls",
            form["scope"], form["audience"], form["resource"], presented is null ? null : X5tS256(presented), AssertionAlgorithm(assertion)));
        if (TokenAnswer is { } answer)
        {
            await answer(context);
            return;
        }
        if (form["grant_type"] != "client_credentials")
        {
            await Error("unsupported_grant_type")(context);
            return;
        }
        if (clientId is null || !_clients.TryGetValue(clientId, out var client) || !await AuthenticatesAsync(client, presented, basic, form, assertion))
        {
            await Error("invalid_client", "Client authentication failed.", 401)(context);
            return;
        }
        var scopes = ((string?)form["scope"])?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (scopes.Any(s => !client.AllowedScopes.Contains(s)))
        {
            await Error("invalid_scope", "The requested scope is not allowed for this client.")(context);
            return;
        }
        var jti = Guid.NewGuid().ToString("N");
        _issued[jti] = 0;
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>
        {
            ["client_id"] = client.Id,
            ["jti"] = jti,
            ["scope"] = string.Join(' ', scopes),
        };
        if (presented is not null)
        {
            claims["cnf"] = new Dictionary<string, object> { ["x5t#S256"] = X5tS256(presented) };
        }
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "payments-api",
            Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", client.Id)]),
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddSeconds(Math.Max(ExpiresInSeconds, 1)),
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(_signingKey, SecurityAlgorithms.EcdsaSha256),
        });
        context.Response.Headers.CacheControl = "no-store";
        var body = new Dictionary<string, object> { ["access_token"] = token, ["token_type"] = "Bearer", ["scope"] = string.Join(' ', scopes) };
        if (!OmitExpiresIn)
        {
            body["expires_in"] = ExpiresInSeconds;
        }
        await context.Response.WriteAsJsonAsync(body);
    }

    private async Task<bool> AuthenticatesAsync(OAuthClient client, X509Certificate2? presented, (string Id, string Secret)? basic, IFormCollection form, string? assertion)
    {
        switch (client.Method)
        {
            case ClientAuth.TlsClientAuth:
                return presented is not null && ChainsToTestRoot(presented) && presented.Subject == client.SubjectDn && basic is null && assertion is null;
            case ClientAuth.SelfSignedTlsClientAuth:
                return presented is not null && presented.RawData.AsSpan().SequenceEqual(client.Certificate!.RawData) && basic is null && assertion is null;
            case ClientAuth.ClientSecretBasic:
                return basic is { } b && b.Secret == client.Secret;
            case ClientAuth.PrivateKeyJwt:
                if (assertion is null || form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                {
                    return false;
                }
                var result = await new JsonWebTokenHandler().ValidateTokenAsync(assertion, new TokenValidationParameters
                {
                    // X509SecurityKey carries RSA keys only; an EC certificate's key is given as such.
                    IssuerSigningKey = client.Certificate!.GetECDsaPublicKey() is { } ec ? new ECDsaSecurityKey(ec) : new X509SecurityKey(client.Certificate!),
                    ValidIssuer = client.Id,
                    ValidAudience = TokenEndpoint,
                    ValidAlgorithms = [SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384],
                    ClockSkew = TimeSpan.FromSeconds(5),
                    RequireExpirationTime = true,
                });
                if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
                {
                    return false;
                }
                // RFC 7523 §3: sub is the client; the header names the certificate; a jti is used once.
                return jwt.Subject == client.Id
                    && jwt.TryGetHeaderValue<string>("x5t#S256", out var x5t) && x5t == X5tS256(client.Certificate!)
                    && _assertionIds.TryAdd(jwt.Id, 0);
            default:
                return false;
        }
    }

    private async Task ApiAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        var authorization = context.Request.Headers.Authorization.ToString();
        AuthorizationSeen.Enqueue(authorization);
        var presented = context.Connection.ClientCertificate;
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"payments\"";
            return;
        }
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(authorization["Bearer ".Length..], new TokenValidationParameters
        {
            IssuerSigningKey = _signingKey,
            ValidIssuer = Issuer,
            ValidAudience = "payments-api",
            ClockSkew = TimeSpan.Zero,
        });
        string? refusal = null;
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            refusal = "The access token is invalid";
        }
        else if (_revoked.ContainsKey(jwt.Id) || RefuseAll)
        {
            refusal = "The access token was revoked";
        }
        else
        {
            // RFC 8705 §3: the token is good only on a connection that presents the certificate it is bound to.
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(jwt.EncodedPayload));
            var bound = payload.RootElement.TryGetProperty("cnf", out var cnf) && cnf.TryGetProperty("x5t#S256", out var x5t) ? x5t.GetString() : null;
            if (bound is null || presented is null || bound != X5tS256(presented))
            {
                refusal = "The access token is not bound to the presented certificate";
            }
            else
            {
                Accepted.Enqueue(jwt.Id);
                await context.Response.WriteAsJsonAsync(new
                {
                    ok = true,
                    client = jwt.Subject,
                    jti = jwt.Id,
                    scope = payload.RootElement.GetProperty("scope").GetString(),
                    certificate = presented.Subject,
                    method = context.Request.Method,
                    body = await new StreamReader(context.Request.Body).ReadToEndAsync(),
                });
                return;
            }
        }
        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"payments\", error=\"invalid_token\", error_description=\"{refusal}\"";
    }

    private static (string Id, string Secret)? Basic(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return null;
        }
        var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
        var colon = pair.IndexOf(':');
        return colon < 0 ? null : (Uri.UnescapeDataString(pair[..colon]), Uri.UnescapeDataString(pair[(colon + 1)..]));
    }

    private static string? AssertionAlgorithm(string? assertion)
    {
        if (assertion is null || assertion.Split('.') is not { Length: 3 } parts)
        {
            return null;
        }
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        return header.RootElement.TryGetProperty("alg", out var alg) ? alg.GetString() : null;
    }

    private static bool ChainsToTestRoot(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(TestPki.Instance.RootPublic);
        chain.ChainPolicy.ExtraStore.Add(TestPki.Instance.IntermediatePublic);
        return chain.Build(certificate);
    }

    public async ValueTask DisposeAsync()
    {
        Gate?.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
