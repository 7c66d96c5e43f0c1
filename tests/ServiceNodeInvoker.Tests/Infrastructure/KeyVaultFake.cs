using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Tests.Infrastructure;

public enum VaultBehaviour
{
    Normal,
    Forbidden,
    Throttled,
    Down,
    ServerError,
}

/// <summary>
/// The subset of Key Vault's REST API that SecretClient uses, over real HTTPS on a fresh loopback
/// port (the SDK caches auth challenges per host:port). Counts authorised secret GETs.
/// </summary>
public sealed class KeyVaultFake : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentDictionary<string, List<(string Version, string Value, string ContentType)>> _secrets = new();
    private int _secretGets;

    private KeyVaultFake(WebApplication app, X509Certificate2 certificate)
    {
        _app = app;
        _certificate = certificate;
    }

    public Uri VaultUri { get; private set; } = null!;

    public int SecretGets => Volatile.Read(ref _secretGets);

    public VaultBehaviour Behaviour { get; set; }

    public int RetryAfterSeconds { get; set; } = 600;

    /// <summary>When set, every secret GET waits for it: lets a test pile up concurrent cold requests.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public static async Task<KeyVaultFake> StartAsync()
    {
        var certificate = TestPki.Instance.Intermediate.IssueServer(["127.0.0.1", "localhost"]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        var app = builder.Build();
        var fake = new KeyVaultFake(app, certificate);
        app.MapGet("/secrets/{name}/{version?}", fake.GetSecretAsync);
        await app.StartAsync();
        fake.VaultUri = new Uri($"https://127.0.0.1:{new Uri(app.Urls.First()).Port}/");
        return fake;
    }

    /// <summary>Adds a version (the newest wins), as importing a certificate does. Returns the version id.</summary>
    public string SetPkcs12(string name, params X509Certificate2[] certificates) =>
        Set(name, Convert.ToBase64String(new X509Certificate2Collection(certificates).Export(X509ContentType.Pkcs12)!), "application/x-pkcs12");

    public string SetPem(string name, string pem) => Set(name, pem, "application/x-pem-file");

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
        var thumbprint = _certificate.GetCertHash(HashAlgorithmName.SHA256);
        options.Transport = new HttpClientTransport(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(thumbprint),
            },
        });
        return options;
    }

    private async Task GetSecretAsync(HttpContext context, string name, string? version)
    {
        var response = context.Response;
        if (!context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal))
        {
            response.StatusCode = 401;
            response.Headers.WWWAuthenticate =
                "Bearer authorization=\"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47\", resource=\"https://vault.azure.net\"";
            await response.WriteAsJsonAsync(new { error = new { code = "Unauthorized", message = "AKV10000: Request is missing a Bearer or PoP token." } });
            return;
        }
        Interlocked.Increment(ref _secretGets);
        if (Gate is { } gate)
        {
            await gate.Task;
        }
        switch (Behaviour)
        {
            case VaultBehaviour.Down:
                context.Abort();
                return;
            case VaultBehaviour.Forbidden:
                await Error(response, 403, "Forbidden", "Caller is not authorized to perform action on resource.");
                return;
            case VaultBehaviour.Throttled:
                response.Headers.RetryAfter = RetryAfterSeconds.ToString();
                await Error(response, 429, "Throttled", "Rate limit exceeded.");
                return;
            case VaultBehaviour.ServerError:
                await Error(response, 500, "InternalServerError", "Something broke.");
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
        await response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["value"] = secret.Value,
            ["contentType"] = secret.ContentType,
            ["id"] = $"https://{host}/secrets/{name}/{secret.Version}",
            ["managed"] = true,
            ["kid"] = $"https://{host}/keys/{name}/{secret.Version}",
            ["attributes"] = new Dictionary<string, object>
            {
                ["enabled"] = true, ["created"] = now, ["updated"] = now, ["recoveryLevel"] = "Recoverable+Purgeable", ["recoverableDays"] = 90,
            },
        });
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
