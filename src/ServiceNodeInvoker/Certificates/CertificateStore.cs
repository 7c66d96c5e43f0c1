using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Certificates;

/// <summary>The certificate cache of every profile.</summary>
public sealed class CertificateStore : IDisposable
{
    private readonly Dictionary<string, ProfileCertificates> _byProfile = new(StringComparer.OrdinalIgnoreCase);

    public CertificateStore(ProfileCatalog catalog, InvokerOptions options, InvokerTelemetry telemetry, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<ProfileCertificates>();
        var policy = new RefreshPolicy(ParseInterval(options.CertificateRefreshInterval));
        var warnings = new CertificateWarnings(options.ExpiryWarningDays, time, loggers.CreateLogger<CertificateWarnings>());
        foreach (var profile in catalog.Profiles)
        {
            _byProfile[profile.Name] = new ProfileCertificates(profile, policy, warnings, telemetry, time, logger);
        }
        telemetry.ObserveDaysToExpiry(() => _byProfile.Values
            .Select(p => (p.Profile.Name, Client: p.State.Material?.Client))
            .Where(p => p.Client is not null)
            .Select(p => (p.Name, (p.Client!.NotAfter - time.GetUtcNow()).TotalDays)));
    }

    public void Dispose()
    {
        foreach (var profile in _byProfile.Values)
        {
            profile.Dispose();
        }
    }

    private static TimeSpan ParseInterval(string? text)
    {
        const string setting = "Invoker:CertificateRefreshInterval";
        if (string.IsNullOrWhiteSpace(text))
        {
            return RefreshPolicy.DefaultInterval;
        }
        var value = double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) ? span
            : throw new ProfileConfigurationException($"{setting} '{text}' is neither seconds (\"3600\") nor a time span (\"01:00:00\").");
        return value >= RefreshPolicy.MinimumInterval
            ? value
            : throw new ProfileConfigurationException($"{setting} must be at least {RefreshPolicy.MinimumInterval.TotalSeconds} seconds.");
    }

    public ProfileCertificates For(TlsProfile profile) => _byProfile[profile.Name];

    public IReadOnlyCollection<ProfileCertificates> All => _byProfile.Values;
}
