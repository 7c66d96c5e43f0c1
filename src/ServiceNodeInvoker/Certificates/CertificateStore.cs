using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Certificates;

/// <summary>The certificate cache of every profile.</summary>
public sealed class CertificateStore
{
    private readonly Dictionary<string, ProfileCertificates> _byProfile = new(StringComparer.OrdinalIgnoreCase);

    public CertificateStore(ProfileCatalog catalog, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<ProfileCertificates>();
        foreach (var profile in catalog.Profiles)
        {
            _byProfile[profile.Name] = new ProfileCertificates(profile, time, logger);
        }
    }

    public ProfileCertificates For(TlsProfile profile) => _byProfile[profile.Name];

    public IReadOnlyCollection<ProfileCertificates> All => _byProfile.Values;
}
