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
/// </summary>
internal sealed class CertificateStore : IDisposable
{
    private readonly Dictionary<string, CertificateCache> _byProfile = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CertificateCache> _others = new(StringComparer.Ordinal);

    /// <param name="others">Owners that are not profiles (the caller CA), each with its own cache.</param>
    public CertificateStore(ProfileCatalog catalog, CertificateCacheSettings settings, IEnumerable<CertificateOwner> others,
        CertificateSourceFactory sources, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<CertificateCache>();
        var policy = new RefreshPolicy(SettingParsers.Duration(settings.RefreshInterval, RefreshPolicy.DefaultInterval));
        RefreshInterval = policy.Interval;
        WarningDays = settings.ExpiryWarningDays;
        var warnings = new CertificateWarnings(settings.ExpiryWarningDays, time, loggers.CreateLogger<CertificateWarnings>());
        CertificateCache Create(CertificateOwner owner) => new(owner,
            owner.Client is { } client ? sources.Create(client, CertificateRole.Client) : null,
            owner.TrustedCa is { } ca ? sources.Create(ca, CertificateRole.TrustedCa) : null,
            policy, warnings, telemetry, time, logger);
        foreach (var profile in catalog.Profiles)
        {
            _byProfile[profile.Name] = Create(CertificateOwner.Of(profile));
        }
        foreach (var owner in others)
        {
            _others[owner.Key] = Create(owner);
        }
        telemetry.ObserveDaysToExpiry(() => _byProfile.Values
            .Select(p => (p.Name, Client: p.State.Material?.Client))
            .Where(p => p.Client is not null)
            .Select(p => (p.Name, (p.Client!.NotAfter - time.GetUtcNow()).TotalDays)));
    }

    /// <summary>How often every cache re-reads its sources (Invoker:CertificateRefreshInterval).</summary>
    public TimeSpan RefreshInterval { get; }

    /// <summary>Invoker:ExpiryWarningDays: inside this many days a certificate is reported as expiring.</summary>
    public int WarningDays { get; }

    public CertificateCache For(TlsProfile profile) => _byProfile[profile.Name];

    /// <summary>The cache of an owner that is not a profile, or null when it was not added.</summary>
    public CertificateCache? Other(string key) => _others.GetValueOrDefault(key);

    /// <summary>Every profile's cache.</summary>
    public IReadOnlyCollection<CertificateCache> Profiles => _byProfile.Values;

    /// <summary>Everything with a refresh schedule: the profiles and the other owners.</summary>
    public IEnumerable<CertificateCache> All => _byProfile.Values.Concat(_others.Values);

    public void Dispose()
    {
        foreach (var entry in All)
        {
            entry.Dispose();
        }
    }
}
