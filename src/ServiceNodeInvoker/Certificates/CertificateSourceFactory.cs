using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Certificates;

/// <summary>Turns certificate source settings into sources, failing with the setting's name when they are incomplete.</summary>
public sealed class CertificateSourceFactory(string contentRoot, Func<KeyVaultClients> keyVault)
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

    private ICertificateSource CreateKeyVault(CertificateSourceOptions options, string setting, CertificateRole role)
    {
        if (options.VaultUri is null || !options.VaultUri.IsAbsoluteUri || options.VaultUri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ProfileConfigurationException($"{setting}:VaultUri must be the vault's https URI, such as https://my-vault.vault.azure.net/.");
        }
        if (string.IsNullOrWhiteSpace(options.Name))
        {
            throw new ProfileConfigurationException($"{setting}:Name is missing: the certificate's name in the vault.");
        }
        var version = string.IsNullOrWhiteSpace(options.Version) ? null : options.Version.Trim();
        // Clients (and the credential) are only created when a profile actually uses Key Vault.
        return new KeyVaultCertificateSource(keyVault().For(options.VaultUri), options.Name.Trim(), version, role);
    }

    private string RequirePath(string? path, string setting) =>
        string.IsNullOrWhiteSpace(path) ? throw new ProfileConfigurationException($"{setting} is missing.") : Resolve(path);

    private string Resolve(string path) => Path.GetFullPath(path, contentRoot);
}
