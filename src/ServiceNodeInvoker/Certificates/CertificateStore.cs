using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// The certificate cache of every profile, and of the caller CA. It builds each source from the
/// profiles' validated settings: configuration flows Profiles → Certificates → Transport.
/// </summary>
public sealed class CertificateStore : IDisposable
{
    private readonly Dictionary<string, ProfileCertificates> _byProfile = new(StringComparer.OrdinalIgnoreCase);

    public CertificateStore(ProfileCatalog catalog, InvokerOptions options, CertificateSourceFactory sources,
        InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<ProfileCertificates>();
        var policy = new RefreshPolicy(SettingParsers.Duration(options.CertificateRefreshInterval, RefreshPolicy.DefaultInterval));
        var warnings = new CertificateWarnings(options.ExpiryWarningDays, time, loggers.CreateLogger<CertificateWarnings>());
        foreach (var profile in catalog.Profiles)
        {
            _byProfile[profile.Name] = new ProfileCertificates(profile.Name,
                profile.ClientCertificate is { } client ? sources.Create(client, CertificateRole.Client) : null,
                profile.TrustedCa is { } ca ? sources.Create(ca, CertificateRole.TrustedCa) : null,
                policy, warnings, telemetry, time, logger);
        }
        if (options.Callers.Mode != Callers.CallerMode.KeyOnly && !CertificateSourceOptions.IsUnset(options.Callers.CertificateAuthority))
        {
            CallerAuthority = new ProfileCertificates(ProfileCertificates.CallerAuthorityName, null,
                sources.Create(options.Callers.CertificateAuthority!, CertificateRole.TrustedCa), policy, warnings, telemetry, time, logger);
        }
        telemetry.ObserveDaysToExpiry(() => _byProfile.Values
            .Select(p => (p.Name, Client: p.State.Material?.Client))
            .Where(p => p.Client is not null)
            .Select(p => (p.Name, (p.Client!.NotAfter - time.GetUtcNow()).TotalDays)));
    }

    /// <summary>The roots caller certificates chain to; null when callers use keys only.</summary>
    public ProfileCertificates? CallerAuthority { get; }

    public ProfileCertificates For(TlsProfile profile) => _byProfile[profile.Name];

    /// <summary>Every profile's cache (not the caller CA's).</summary>
    public IReadOnlyCollection<ProfileCertificates> All => _byProfile.Values;

    /// <summary>Everything with a refresh schedule: the profiles and the caller CA.</summary>
    public IEnumerable<ProfileCertificates> Scheduled => CallerAuthority is null ? All : All.Append(CallerAuthority);

    public void Dispose()
    {
        foreach (var entry in Scheduled)
        {
            entry.Dispose();
        }
    }
}
