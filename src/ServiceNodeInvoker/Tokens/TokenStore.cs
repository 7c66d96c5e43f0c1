using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// The token cache of each profile that has a token source, kept per <see cref="TlsProfile"/> instance: a configuration
/// change adds caches for the profiles it brings (<see cref="Add"/>) and retires those of the profiles it takes away
/// (<see cref="Retire"/>); an unchanged profile keeps its instance, so its cache and the token in it.
/// </summary>
internal sealed class TokenStore : IDisposable
{
    private readonly ProfileInstances<TokenCache> _caches;

    // Profiles that share a token endpoint share its gate: one token request in flight per endpoint. Keyed by the
    // endpoint's URL, not its host: one host may serve many (Entra ID serves every tenant's on one). Kept across
    // configuration changes, so a profile added later shares the gate of those already there. Only touched while
    // _caches makes a cache, which it does under its lock.
    private readonly Dictionary<string, DependencyGate> _gates = new(StringComparer.Ordinal);
    private readonly CertificateStore _certificates;
    private readonly TokenClient _client;
    private readonly InvokerTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public TokenStore(ProfileCatalog catalog, CertificateStore certificates, TokenClient client, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        _certificates = certificates;
        _client = client;
        _telemetry = telemetry;
        _time = time;
        _logger = loggers.CreateLogger<TokenCache>();
        _caches = new(time, CertificateStore.RetiredGrace);
        Add(catalog.Profiles);
    }

    /// <summary>The profile's token cache (a retired one's while requests that resolved it may still run), or null when it has no token source.</summary>
    public TokenCache? For(TlsProfile profile) =>
        profile.Token is not null && _caches.TryGet(profile, out var cache) ? cache : null;

    /// <summary>Caches for the profiles with a token source that a configuration change brings (their certificate caches must exist).</summary>
    public void Add(IEnumerable<TlsProfile> profiles) =>
        _caches.Add(profiles.Where(p => p.Token is not null), profile =>
        {
            var endpoint = profile.Token!.EndpointName;
            if (!_gates.TryGetValue(endpoint, out var gate))
            {
                _gates[endpoint] = gate = new DependencyGate(EndpointGateOptions, _time);
            }
            return new TokenCache(profile, _client, _certificates.For(profile), gate, _telemetry, _time, _logger);
        });

    /// <summary>
    /// Retires the caches of profiles no new request resolves: they still serve the requests that resolved them before,
    /// and are disposed once those have run out of time (the profile's timeout and <see cref="CertificateStore.RetiredGrace"/>).
    /// </summary>
    public void Retire(IEnumerable<TlsProfile> profiles) => _caches.Retire(profiles);

    /// <summary>The token step of the profile's backend calls, or null when the profile has no token source.</summary>
    public BearerTokenPolicy? BearerFor(TlsProfile profile) => For(profile)?.Bearer; // one per cache, not one per call

    /// <summary>
    /// One token endpoint (its URL) as this instance sees it, shared by every profile that uses it: one token request in
    /// flight at a time, and once the endpoint said to wait (429, or 502–504 with Retry-After) nobody here asks it before
    /// then. Many instances starting at once then offer the endpoint one request each, not one per profile each, and a
    /// throttled instance backs off as a whole instead of each of its profiles on its own. After a throttle the requests
    /// that follow are spaced — the wait it asked for, jittered, halved with each success — so an instance comes back at
    /// the pace the endpoint can take instead of in a burst (additive back-off, multiplicative recovery). A token request
    /// is rare in steady state (one per profile per token lifetime), so the line costs nothing outside a cold start. The
    /// wait after a throttle is <see cref="TokenCache.RetryDelay"/>: Retry-After plus up to half again, else full jitter
    /// under a ceiling doubling with each failure in a row at the endpoint.
    /// </summary>
    public static readonly DependencyGateOptions EndpointGateOptions = new("token endpoint", MaxInFlight: 1, TokenCache.RetryDelay, SpaceAfterThrottle: true);

    public void Dispose() => _caches.Dispose();
}
