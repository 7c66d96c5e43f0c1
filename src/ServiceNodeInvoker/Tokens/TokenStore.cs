using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tokens;

/// <summary>The token cache of each profile that has a token source.</summary>
internal sealed class TokenStore : IDisposable
{
    private readonly Dictionary<string, TokenCache> _caches = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, BearerTokenPolicy> _bearers = new(StringComparer.OrdinalIgnoreCase); // one per profile, not per call

    public TokenStore(ProfileCatalog catalog, CertificateStore certificates, TokenClient client, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<TokenCache>();
        // Profiles that share a token endpoint share its gate: one token request in flight per endpoint. Keyed by the
        // endpoint's URL, not its host: one host may serve many (Entra ID serves every tenant's on one).
        var gates = new Dictionary<string, DependencyGate>(StringComparer.Ordinal);
        foreach (var profile in catalog.Profiles.Where(p => p.Token is not null))
        {
            var endpoint = profile.Token!.EndpointName;
            if (!gates.TryGetValue(endpoint, out var gate))
            {
                gates[endpoint] = gate = new DependencyGate(EndpointGateOptions, time);
            }
            var cache = _caches[profile.Name] = new TokenCache(profile, client, certificates.For(profile), gate, telemetry, time, logger);
            _bearers[profile.Name] = new BearerTokenPolicy(cache);
        }
    }

    /// <summary>
    /// One token endpoint (its URL) as this instance sees it, shared by every profile that uses it: one token request in
    /// flight at a time, and once the endpoint said to wait (429, or 502–504 with Retry-After) nobody here asks it before
    /// then. Many instances starting at once then offer the endpoint one request each, not one per profile each, and a
    /// throttled instance backs off as a whole instead of each of its profiles on its own. After a throttle the requests
    /// that follow are spaced — the wait it asked for, jittered, halved with each success — so an instance comes back at
    /// the pace the endpoint can take instead of in a burst (additive back-off, multiplicative recovery). A token request
    /// is rare in steady state (one per profile per token lifetime), so the line costs nothing outside a cold start. The
    /// wait after a throttle is the token cache's reading of Retry-After (<see cref="TokenCache.RetryDelay"/>), given
    /// through <see cref="DependencyGate.Close"/>.
    /// </summary>
    public static readonly DependencyGateOptions EndpointGateOptions = new("token endpoint", MaxInFlight: 1, SpaceAfterThrottle: true);

    /// <summary>The profile's token cache, or null when the profile has no token source.</summary>
    public TokenCache? For(TlsProfile profile) => _caches.Count == 0 ? null : _caches.GetValueOrDefault(profile.Name); // no name hashed when no profile has one

    /// <summary>The token step of the profile's backend calls, or null when the profile has no token source.</summary>
    public BearerTokenPolicy? BearerFor(TlsProfile profile) => _bearers.Count == 0 ? null : _bearers.GetValueOrDefault(profile.Name);

    public void Dispose()
    {
        foreach (var cache in _caches.Values)
        {
            cache.Dispose();
        }
    }
}
