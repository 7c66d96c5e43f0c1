using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Certificates;

/// <summary>Turns certificate source settings into sources, failing with the setting's name when they are incomplete.</summary>
public class CertificateSourceFactory(string contentRoot)
{
    public ICertificateSource Create(CertificateSourceOptions options, string setting, CertificateRole role)
    {
        switch (options.Source)
        {
            case CertificateSourceKind.File:
                return new FileCertificateSource(RequirePath(options.Path, $"{setting}:Path"), options.Password, role);
            case CertificateSourceKind.Pem:
                var certificate = RequirePath(options.CertificatePath, $"{setting}:CertificatePath");
                var key = role == CertificateRole.Client ? RequirePath(options.KeyPath, $"{setting}:KeyPath") : null;
                var chain = string.IsNullOrWhiteSpace(options.ChainPath) ? null : Resolve(options.ChainPath);
                return new PemCertificateSource(certificate, key, chain, options.Password, role);
            case CertificateSourceKind.KeyVault:
                return CreateKeyVault(options, setting, role);
            case null:
                throw new ProfileConfigurationException($"{setting}:Source is missing: use KeyVault, File or Pem.");
            default:
                throw new ProfileConfigurationException($"{setting}:Source '{options.Source}' is not KeyVault, File or Pem.");
        }
    }

    protected virtual ICertificateSource CreateKeyVault(CertificateSourceOptions options, string setting, CertificateRole role) =>
        throw new ProfileConfigurationException($"{setting}:Source is KeyVault, but no Key Vault client is configured in this host.");

    private string RequirePath(string? path, string setting) =>
        string.IsNullOrWhiteSpace(path) ? throw new ProfileConfigurationException($"{setting} is missing.") : Resolve(path);

    private string Resolve(string path) => Path.GetFullPath(path, contentRoot);
}
