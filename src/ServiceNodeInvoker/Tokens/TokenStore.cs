using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tokens;

/// <summary>The token cache of each profile that has a token source.</summary>
internal sealed class TokenStore : IDisposable
{
    private readonly Dictionary<string, TokenCache> _caches = new(StringComparer.OrdinalIgnoreCase);

    public TokenStore(ProfileCatalog catalog, CertificateStore certificates, TokenClient client, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<TokenCache>();
        foreach (var profile in catalog.Profiles.Where(p => p.Token is not null))
        {
            _caches[profile.Name] = new TokenCache(profile, client, certificates.For(profile), telemetry, time, logger);
        }
    }

    /// <summary>The profile's token cache, or null when the profile has no token source.</summary>
    public TokenCache? For(TlsProfile profile) => _caches.GetValueOrDefault(profile.Name);

    public void Dispose()
    {
        foreach (var cache in _caches.Values)
        {
            cache.Dispose();
        }
    }
}
