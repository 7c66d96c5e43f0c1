using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Whose certificates a <see cref="CertificateCache"/> holds: a profile, or another part of the invoker
/// that has certificate settings of its own (the caller CA). The store caches, refreshes and reports them
/// all the same way; only the names differ.
/// </summary>
/// <param name="Key">The profile's name, or the setting path of another owner (it cannot clash: profile names have no ':').</param>
/// <param name="Description">How logs and errors name the owner ("profile 'payments'", "the caller CA").</param>
/// <param name="TrustedCaDescription">How the load log names its trusted CA.</param>
internal sealed record CertificateOwner(
    string Key, string Description, string TrustedCaDescription, CertificateSourceOptions? Client, CertificateSourceOptions? TrustedCa)
{
    public static CertificateOwner Of(TlsProfile profile) =>
        new(profile.Name, $"profile '{profile.Name}'", $"The trusted CA of profile '{profile.Name}'", profile.ClientCertificate, profile.TrustedCa);
}
