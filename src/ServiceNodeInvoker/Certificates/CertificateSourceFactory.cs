using ServiceNodeInvoker.Profiles;
namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Turns validated certificate source settings into sources. Relative paths resolve against the
/// app's content root (the project folder under <c>dotnet run</c>, the app folder when published).
/// </summary>
internal sealed class CertificateSourceFactory(string contentRoot, Func<KeyVaultClients> keyVault)
{
    public ICertificateSource Create(CertificateSourceOptions options, CertificateRole role) => options.Source switch
    {
        CertificateSourceKind.File => new FileCertificateSource(Resolve(options.Path!), options.Password, role),
        CertificateSourceKind.Pem => new PemCertificateSource(Resolve(options.CertificatePath!),
            role == CertificateRole.Client ? Resolve(options.KeyPath!) : null,
            string.IsNullOrWhiteSpace(options.ChainPath) ? null : Resolve(options.ChainPath), options.Password, role),
        // Clients (and the credential) are only created when a source actually uses Key Vault.
        CertificateSourceKind.KeyVault => new KeyVaultCertificateSource(keyVault().For(options.VaultUri!), keyVault().CertificatesFor(options.VaultUri!), options.Name!.Trim(),
            string.IsNullOrWhiteSpace(options.Version) ? null : options.Version.Trim(), role, keyVault().GateFor(options.VaultUri!)),
        _ => throw new InvalidOperationException("configuration was not validated: a certificate source has no Source."),
    };

    private string Resolve(string path) => Path.GetFullPath(path.Trim(), contentRoot);
}
