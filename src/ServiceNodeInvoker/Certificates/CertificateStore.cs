using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Certificates;

/// <summary>The certificate cache settings: how often sources are re-read, and when expiry turns into a warning.</summary>
/// <param name="RefreshInterval">Invoker:CertificateRefreshInterval, validated.</param>
/// <param name="ExpiryWarningDays">Invoker:ExpiryWarningDays.</param>
internal sealed record CertificateCacheSettings(string? RefreshInterval, int ExpiryWarningDays);

/// <summary>
/// The certificate cache of every profile, and of the other owners the composition root adds (the caller
/// CA). It builds each source from the validated settings: configuration flows Profiles → Certificates → Transport.
/// Caches are kept per <see cref="TlsProfile"/> instance: a configuration change adds caches for the profiles it
/// brings (<see cref="Add"/>) and retires those of the profiles it takes away (<see cref="Retire"/>); an unchanged
/// profile keeps its instance, so its cache and the material in it.
/// </summary>
internal sealed class CertificateStore : IDisposable
{
    /// <summary>How long a retired cache still serves requests that resolved its profile before the change, beyond the profile's timeout.</summary>
    public static readonly TimeSpan RetiredGrace = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly ProfileInstances<CertificateCache> _byProfile;
    private readonly Dictionary<string, CertificateCache> _others = new(StringComparer.Ordinal);
    private readonly Func<CertificateOwner, CertificateCache> _create;
    private bool _started;
    private bool _disposed;

    /// <param name="others">Owners that are not profiles (the caller CA), each with its own cache.</param>
    public CertificateStore(ProfileCatalog catalog, CertificateCacheSettings settings, IEnumerable<CertificateOwner> others,
        CertificateSourceFactory sources, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        _byProfile = new(time, RetiredGrace);
        var logger = loggers.CreateLogger<CertificateCache>();
        var policy = new RefreshPolicy(SettingParsers.Duration(settings.RefreshInterval, RefreshPolicy.DefaultInterval));
        RefreshInterval = policy.Interval;
        WarningDays = settings.ExpiryWarningDays;
        var warnings = new CertificateWarnings(settings.ExpiryWarningDays, time, loggers.CreateLogger<CertificateWarnings>());
        _create = owner => new(owner,
            owner.Client is { } client ? sources.Create(client, CertificateRole.Client) : null,
            owner.TrustedCa is { } ca ? sources.Create(ca, CertificateRole.TrustedCa) : null,
            policy, warnings, telemetry, time, logger);
        _byProfile.Add(catalog.Profiles, profile => _create(CertificateOwner.Of(profile)));
        foreach (var owner in others)
        {
            _others[owner.Key] = _create(owner);
        }
        telemetry.ObserveDaysToExpiry(() => _byProfile.Current
            .Select(p => (p.Name, Client: p.State.Material?.Client))
            .Where(p => p.Client is not null)
            .Select(p => (p.Name, (p.Client!.NotAfter - time.GetUtcNow()).TotalDays)));
    }

    /// <summary>How often every cache re-reads its sources (Invoker:CertificateRefreshInterval).</summary>
    public TimeSpan RefreshInterval { get; }

    /// <summary>Invoker:ExpiryWarningDays: inside this many days a certificate is reported as expiring.</summary>
    public int WarningDays { get; }

    /// <summary>The profile's cache: a current profile's, or a retired one's while requests that resolved it may still run.</summary>
    public CertificateCache For(TlsProfile profile) =>
        _byProfile.TryGet(profile, out var cache) ? cache
        : throw new KeyNotFoundException($"profile '{profile.Name}' has no certificate cache");

    /// <summary>The cache of an owner that is not a profile, or null when it was not added.</summary>
    public CertificateCache? Other(string key) => _others.GetValueOrDefault(key);

    /// <summary>Every current profile's cache.</summary>
    public IReadOnlyCollection<CertificateCache> Profiles => _byProfile.Current;

    /// <summary>Everything with a refresh schedule: the current profiles and the other owners.</summary>
    public IEnumerable<CertificateCache> All => _byProfile.Current.Concat(_others.Values);

    /// <summary>Starts every cache's schedule (a load now, then refreshes); caches added later start as they are added.</summary>
    public void Start()
    {
        lock (_gate)
        {
            _started = true;
        }
        foreach (var cache in All)
        {
            cache.Start(); // failures are logged and shown by health
        }
    }

    /// <summary>
    /// Caches for profiles a configuration change brings (new, or a changed profile's new instance), built from their
    /// settings as at start-up; their first load starts at once when the store runs.
    /// </summary>
    public void Add(IEnumerable<TlsProfile> profiles)
    {
        IReadOnlyList<CertificateCache> added;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            added = _byProfile.Add(profiles, profile => _create(CertificateOwner.Of(profile)));
            if (!_started)
            {
                return;
            }
        }
        foreach (var cache in added)
        {
            cache.Start();
        }
    }

    /// <summary>
    /// Retires the caches of profiles no new request resolves (removed, or replaced by a changed instance): they leave
    /// the current set (health, metrics) but still serve the requests that resolved them before, and are disposed once
    /// those have run out of time (the profile's timeout and <see cref="RetiredGrace"/>).
    /// </summary>
    public void Retire(IEnumerable<TlsProfile> profiles) => _byProfile.Retire(profiles);

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }
        _byProfile.Dispose();
        foreach (var other in _others.Values)
        {
            other.Dispose();
        }
    }
}
