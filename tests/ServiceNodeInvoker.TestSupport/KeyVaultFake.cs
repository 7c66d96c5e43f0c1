using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ServiceNodeInvoker.TestSupport;

public enum VaultBehaviour
{
    Normal,
    Forbidden,
    Throttled,
    Down,
    ServerError,

    /// <summary>200 with a body that is not the API's JSON (a proxy's or gateway's page): the SDK cannot read it.</summary>
    Garbled,
}

/// <summary>
/// The subset of Key Vault's REST API that SecretClient and CertificateClient use, over real HTTPS on a
/// fresh loopback port (the SDK caches auth challenges per host:port). A certificate (SetPkcs12,
/// SetPemCertificate) is a certificate object with a policy *and* a secret of the same name and
/// version, as an import makes them; SetPem alone is a plain secret. Counts authorised GETs of each.
/// </summary>
public sealed class KeyVaultFake : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentDictionary<string, List<(string Version, string Value, string ContentType)>> _secrets = new();
    private readonly ConcurrentDictionary<string, Certificate> _certificates = new();
    private int _secretGets;
    private int _certificateGets;

    /// <summary>A certificate object: per version its leaf, validity and enabled flag; its renewal policy.</summary>
    private sealed class Certificate
    {
        public List<(string Version, X509Certificate2 Leaf, bool Enabled)> Versions { get; } = [];
        public int? AutoRenewDaysBeforeExpiry { get; set; }
        public string IssuerName { get; set; } = "Unknown";
    }
    private KeyVaultFake(WebApplication app, X509Certificate2 certificate)
    {
        _app = app;
        _certificate = certificate;
    }

    public Uri VaultUri { get; private set; } = null!;

    /// <summary>
    /// Whether requests without a token get the 401 challenge (default). Off for a client in another process: its SDK accepts a
    /// challenge only when the resource is a parent domain of the vault's host (vault.azure.net of x.vault.azure.net), which a
    /// vault on a loopback address cannot have, and in-process options cannot turn that check off there; it then reads
    /// without a token.
    /// </summary>
    public bool RequireToken { get; set; } = true;


    public int SecretGets => Volatile.Read(ref _secretGets);

    public int CertificateGets => Volatile.Read(ref _certificateGets);

    /// <summary>403 on certificate GETs only (the identity lacks Key Vault Certificate User).</summary>
    public bool ForbidCertificates { get; set; }

    /// <summary>403 on secret GETs only (the identity lacks Key Vault Secrets User).</summary>
    public bool ForbidSecrets { get; set; }
    public VaultBehaviour Behaviour { get; set; }

    /// <summary>The error code a <see cref="VaultBehaviour.ServerError"/> answer carries: the vault's text, not ours.</summary>
    public string ServerErrorCode { get; set; } = "InternalServerError";

    public int RetryAfterSeconds { get; set; } = 600;

    /// <summary>The clock <see cref="Requests"/> are stamped with (a test's FakeTimeProvider, to see when a retry came).</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Every authorised GET in arrival order: which API, when by <see cref="Clock"/>, and its status.</summary>
    public ConcurrentQueue<(string Api, DateTimeOffset At)> Requests { get; } = new();

    /// <summary>The vault's request limit (secret and certificate GETs together): beyond it, 429 with Retry-After.</summary>
    public RateLimit? Limit { get; set; }

    /// <summary>The next this many GETs (secret or certificate) are answered 429 with <see cref="RetryAfterSeconds"/>.</summary>
    public int ThrottleNext;

    /// <summary>GETs answered 429 (the limit, <see cref="ThrottleNext"/>, or <see cref="VaultBehaviour.Throttled"/>).</summary>
    public int Throttled => Volatile.Read(ref _throttled);

    private int _throttled;

    /// <summary>When set, every secret GET waits for it: lets a test pile up concurrent cold requests.</summary>
    public TaskCompletionSource? Gate { get; set; }

    private readonly ConcurrentDictionary<object, string> _held = new();

    /// <summary>The names of the secrets whose GETs are waiting at <see cref="Gate"/> now: arrived, authorised, not yet answered.</summary>
    public IReadOnlyCollection<string> HeldAtGate => _held.Values.ToList();

    public static async Task<KeyVaultFake> StartAsync()
    {
        var certificate = TestPki.Instance.Intermediate.IssueServer(["127.0.0.1", "localhost"]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear(); // no appsettings.json watchers: many fakes at once must not use up inotify instances
        builder.Logging.ClearProviders();
        // With its intermediate, as Key Vault sends its chain: a client in another process validates it against its trust store.
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ServerCertificateChain = TestPki.Instance.Intermediate.Intermediates(),
        })));
        var app = builder.Build();
        var fake = new KeyVaultFake(app, certificate);
        app.MapGet("/secrets/{name}/{version?}", fake.GetSecretAsync);
        app.MapGet("/certificates/{name}/{version?}", fake.GetCertificateAsync);
        await app.StartAsync();
        fake.VaultUri = new Uri($"https://127.0.0.1:{new Uri(app.Urls.First()).Port}/");
        return fake;
    }

    /// <summary>Imports a certificate version (the newest wins): the certificate object and its secret. Returns the version id.</summary>
    public string SetPkcs12(string name, params X509Certificate2[] certificates)
    {
        var version = Set(name, Convert.ToBase64String(new X509Certificate2Collection(certificates).Export(X509ContentType.Pkcs12)!), "application/x-pkcs12");
        AddCertificateVersion(name, version, certificates.FirstOrDefault(c => c.HasPrivateKey) ?? certificates[0]);
        return version;
    }

    /// <summary>Imports a PEM certificate (key, leaf, chain in one secret) as a certificate object.</summary>
    public string SetPemCertificate(string name, string pem, X509Certificate2 leaf)
    {
        var version = Set(name, pem, "application/x-pem-file");
        AddCertificateVersion(name, version, leaf);
        return version;
    }

    /// <summary>The certificate's renewal policy: auto-renew N days before expiry with a real issuer, or manual.</summary>
    public void SetRenewal(string name, int? autoRenewDaysBeforeExpiry, string issuer = "Self")
    {
        var certificate = _certificates[name];
        certificate.AutoRenewDaysBeforeExpiry = autoRenewDaysBeforeExpiry;
        certificate.IssuerName = issuer;
    }

    /// <summary>Disables the current version, as `az keyvault certificate set-attributes --enabled false` does.</summary>
    public void DisableCurrent(string name)
    {
        var versions = _certificates[name].Versions;
        lock (versions)
        {
            versions[^1] = versions[^1] with { Enabled = false };
        }
    }

    private void AddCertificateVersion(string name, string version, X509Certificate2 leaf)
    {
        var certificate = _certificates.GetOrAdd(name, _ => new Certificate());
        lock (certificate.Versions)
        {
            certificate.Versions.Add((version, X509CertificateLoader.LoadCertificate(leaf.RawData), true));
        }
    }

    /// <summary>Registers client options for both clients that reach this fake.</summary>
    public void Register(IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton(ClientOptions()));
        services.Replace(ServiceDescriptor.Singleton(CertificateClientOptions()));
    }

    /// <summary>CertificateClient options that reach this fake: its certificate trusted, no retries.</summary>
    public CertificateClientOptions CertificateClientOptions()
    {
        var options = new CertificateClientOptions { DisableChallengeResourceVerification = true };
        options.Retry.MaxRetries = 0;
        options.Transport = Transport();
        return options;
    }

    public string SetPem(string name, string pem) => Set(name, pem, "application/x-pem-file");

    private readonly ConcurrentDictionary<string, DateTimeOffset?> _plainSecrets = new();

    /// <summary>A plain secret (a client secret: not backed by a certificate), with the expiry the vault records for it, if any.</summary>
    public string SetSecret(string name, string value, DateTimeOffset? expiresOn)
    {
        var version = Set(name, value, "text/plain");
        _plainSecrets[$"{name}/{version}"] = expiresOn;
        return version;
    }

    public string Set(string name, string value, string contentType)
    {
        var version = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var versions = _secrets.GetOrAdd(name, _ => []);
        lock (versions)
        {
            versions.Add((version, value, contentType));
        }
        return version;
    }

    /// <summary>SecretClient options that reach this fake: its certificate trusted, no retries.</summary>
    public SecretClientOptions ClientOptions()
    {
        var options = new SecretClientOptions { DisableChallengeResourceVerification = true };
        options.Retry.MaxRetries = 0;
        options.Transport = Transport();
        return options;
    }

    private int _readsInFlight;

    /// <summary>
    /// Requests the clients made from <see cref="ClientOptions"/> and <see cref="CertificateClientOptions"/> have sent and not yet
    /// had answered (connection, TLS handshake, the token challenge and all), as the client sees them. A test that moves a fake
    /// clock while real reads take real time moves it only while this is 0, so a slow read on a loaded machine does not eat a
    /// waiting caller's deadline.
    /// </summary>
    public int ReadsInFlight => Volatile.Read(ref _readsInFlight);

    private HttpClientTransport Transport()
    {
        var thumbprint = _certificate.GetCertHash(HashAlgorithmName.SHA256);
        return new HttpClientTransport(new InFlightCounter(this)
        {
            InnerHandler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(thumbprint),
                },
            },
        });
    }

    private sealed class InFlightCounter(KeyVaultFake vault) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref vault._readsInFlight);
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                // The SDK reads the (small) body after this returns: buffer it here so the read is counted as in flight.
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                return response;
            }
            finally
            {
                Interlocked.Decrement(ref vault._readsInFlight);
            }
        }
    }

    private async Task<bool> ChallengeAsync(HttpContext context)
    {
        if (!RequireToken || context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }
        var response = context.Response;
        response.StatusCode = 401;
        response.Headers.WWWAuthenticate =
            "Bearer authorization=\"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47\", resource=\"https://vault.azure.net\"";
        await response.WriteAsJsonAsync(new { error = new { code = "Unauthorized", message = "AKV10000: Request is missing a Bearer or PoP token." } });
        return true;
    }

    /// <summary>GET /certificates/{name}[/{version}]: the shapes of the real service, with attributes and a policy.</summary>
    private async Task GetCertificateAsync(HttpContext context, string name, string? version)
    {
        if (await ChallengeAsync(context))
        {
            return;
        }
        Interlocked.Increment(ref _certificateGets);
        Requests.Enqueue(("certificates", Clock.GetUtcNow()));
        var response = context.Response;
        if (await ThrottledAsync(context) || await OutageAsync(context))
        {
            return;
        }
        if (ForbidCertificates || Behaviour == VaultBehaviour.Forbidden)
        {
            await Error(response, 403, "Forbidden", "Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/certificates/read'.");
            return;
        }
        if (!_certificates.TryGetValue(name, out var certificate))
        {
            await Error(response, 404, "CertificateNotFound", $"A certificate with (name/id) {name} was not found in this key vault.");
            return;
        }
        (string Version, X509Certificate2 Leaf, bool Enabled) entry;
        lock (certificate.Versions)
        {
            entry = string.IsNullOrEmpty(version) ? certificate.Versions[^1] : certificate.Versions.FirstOrDefault(v => v.Version == version);
        }
        if (entry.Leaf is null)
        {
            await Error(response, 404, "CertificateNotFound", "No such version.");
            return;
        }
        var host = $"{context.Request.Host}";
        var lifetimeAction = certificate.AutoRenewDaysBeforeExpiry is { } days
            ? new Dictionary<string, object> { ["trigger"] = new { days_before_expiry = days }, ["action"] = new { action_type = "AutoRenew" } }
            : new Dictionary<string, object> { ["trigger"] = new { lifetime_percentage = 80 }, ["action"] = new { action_type = "EmailContacts" } };
        await response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["id"] = $"https://{host}/certificates/{name}/{entry.Version}",
            ["kid"] = $"https://{host}/keys/{name}/{entry.Version}",
            ["sid"] = $"https://{host}/secrets/{name}/{entry.Version}",
            ["x5t"] = Base64Url(entry.Leaf.GetCertHash()),
            ["cer"] = Convert.ToBase64String(entry.Leaf.RawData),
            ["attributes"] = new Dictionary<string, object>
            {
                ["enabled"] = entry.Enabled,
                ["nbf"] = new DateTimeOffset(entry.Leaf.NotBefore.ToUniversalTime()).ToUnixTimeSeconds(),
                ["exp"] = new DateTimeOffset(entry.Leaf.NotAfter.ToUniversalTime()).ToUnixTimeSeconds(),
                ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["updated"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["recoveryLevel"] = "Recoverable+Purgeable",
                ["recoverableDays"] = 90,
            },
            ["policy"] = new Dictionary<string, object>
            {
                ["id"] = $"https://{host}/certificates/{name}/policy",
                ["key_props"] = new { exportable = true, kty = "RSA", key_size = 2048, reuse_key = false },
                ["secret_props"] = new { contentType = "application/x-pkcs12" },
                ["x509_props"] = new { subject = entry.Leaf.Subject, ekus = new[] { "1.3.6.1.5.5.7.3.2" }, validity_months = 12 },
                ["lifetime_actions"] = new[] { lifetimeAction },
                ["issuer"] = new { name = certificate.IssuerName },
                ["attributes"] = new { enabled = true },
            },
        });
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private async Task GetSecretAsync(HttpContext context, string name, string? version)
    {
        var response = context.Response;
        if (await ChallengeAsync(context))
        {
            return;
        }
        Interlocked.Increment(ref _secretGets);
        Requests.Enqueue(("secrets", Clock.GetUtcNow()));
        if (Gate is { } gate)
        {
            var held = new object();
            _held[held] = name;
            try
            {
                await gate.Task;
            }
            finally
            {
                _held.TryRemove(held, out _);
            }
        }
        if (await ThrottledAsync(context))
        {
            return;
        }
        switch (Behaviour)
        {
            case VaultBehaviour.Down:
                context.Abort();
                return;
            case VaultBehaviour.Forbidden:
                await Error(response, 403, "Forbidden", "Caller is not authorized to perform action on resource.");
                return;
            case VaultBehaviour.Normal when ForbidSecrets:
                await Error(response, 403, "Forbidden", "Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'.");
                return;
            case VaultBehaviour.Throttled:
                Interlocked.Increment(ref _throttled);
                response.Headers.RetryAfter = RetryAfterSeconds.ToString();
                await Error(response, 429, "Throttled", "Rate limit exceeded.");
                return;
            case VaultBehaviour.ServerError:
                await Error(response, 500, ServerErrorCode, "Something broke.");
                return;
            case VaultBehaviour.Garbled:
                await GarbledAsync(response);
                return;
        }
        if (!_secrets.TryGetValue(name, out var versions))
        {
            await Error(response, 404, "SecretNotFound", $"A secret with (name/id) {name} was not found in this key vault.");
            return;
        }
        (string Version, string Value, string ContentType) secret;
        lock (versions)
        {
            secret = version is null ? versions[^1] : versions.FirstOrDefault(v => v.Version == version);
        }
        if (secret.Value is null)
        {
            await Error(response, 404, "SecretNotFound", "No such version.");
            return;
        }
        var host = $"{context.Request.Host}";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var attributes = new Dictionary<string, object>
        {
            ["enabled"] = true, ["created"] = now, ["updated"] = now, ["recoveryLevel"] = "Recoverable+Purgeable", ["recoverableDays"] = 90,
        };
        var body = new Dictionary<string, object>
        {
            ["value"] = secret.Value,
            ["contentType"] = secret.ContentType,
            ["id"] = $"https://{host}/secrets/{name}/{secret.Version}",
            ["attributes"] = attributes,
        };
        if (_plainSecrets.TryGetValue($"{name}/{secret.Version}", out var expires))
        {
            if (expires is { } exp)
            {
                attributes["exp"] = exp.ToUnixTimeSeconds();
            }
        }
        else
        {
            body["managed"] = true;
            body["kid"] = $"https://{host}/keys/{name}/{secret.Version}";
        }
        await response.WriteAsJsonAsync(body);
    }

    /// <summary>Beyond the rate limit, or one of the next throttled GETs: 429 with Retry-After. True when answered so.</summary>
    private async Task<bool> ThrottledAsync(HttpContext context)
    {
        var left = Volatile.Read(ref ThrottleNext);
        while (left > 0 && Interlocked.CompareExchange(ref ThrottleNext, left - 1, left) != left)
        {
            left = Volatile.Read(ref ThrottleNext);
        }
        if (left > 0)
        {
            Interlocked.Increment(ref _throttled);
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
            await Error(context.Response, 429, "Throttled", "Rate limit exceeded.");
            return true;
        }
        if (Limit is { } limit && !limit.TryTake())
        {
            Interlocked.Increment(ref _throttled);
            await limit.RefuseAsync(context.Response, JsonSerializer.Serialize(new { error = new { code = "Throttled", message = "Rate limit exceeded." } }));
            return true;
        }
        return false;
    }

    /// <summary>Down, throttled or failing: the same for both APIs. True when the request was answered so.</summary>
    private async Task<bool> OutageAsync(HttpContext context)
    {
        var response = context.Response;
        switch (Behaviour)
        {
            case VaultBehaviour.Down:
                context.Abort();
                return true;
            case VaultBehaviour.Throttled:
                Interlocked.Increment(ref _throttled);
                response.Headers.RetryAfter = RetryAfterSeconds.ToString();
                await Error(response, 429, "Throttled", "Rate limit exceeded.");
                return true;
            case VaultBehaviour.ServerError:
                await Error(response, 500, ServerErrorCode, "Something broke.");
                return true;
            case VaultBehaviour.Garbled:
                await GarbledAsync(response);
                return true;
            default:
                return false;
        }
    }

    private static Task GarbledAsync(HttpResponse response)
    {
        response.StatusCode = 200;
        response.ContentType = "text/html; charset=utf-8";
        return response.WriteAsync("<html><body>Gateway says hello</body></html>");
    }

    private static Task Error(HttpResponse response, int status, string code, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        return response.WriteAsync(JsonSerializer.Serialize(new { error = new { code, message } }));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A credential that hands out a fixed token, as a managed identity would.</summary>
public sealed class StaticTokenCredential : TokenCredential
{
    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        new("fake-access-token", DateTimeOffset.UtcNow.AddHours(1));

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}
