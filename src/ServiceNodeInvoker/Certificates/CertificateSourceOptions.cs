namespace ServiceNodeInvoker.Certificates;

public enum CertificateSourceKind
{
    KeyVault,
    File,
    Pem,
}

/// <summary>Where a certificate comes from: <c>KeyVault</c>, <c>File</c> (PFX, or a CA in PEM/DER) or <c>Pem</c>.</summary>
public sealed class CertificateSourceOptions
{
    public CertificateSourceKind? Source { get; set; }

    // KeyVault
    public Uri? VaultUri { get; set; }
    public string? Name { get; set; }
    public string? Version { get; set; }

    // File
    public string? Path { get; set; }
    public string? Password { get; set; }

    // Pem
    public string? CertificatePath { get; set; }
    public string? KeyPath { get; set; }
    public string? ChainPath { get; set; }

    /// <summary>A section whose settings are all empty (as app settings often leave them) counts as absent.</summary>
    public static bool IsUnset(CertificateSourceOptions? o) =>
        o is null || (o.Source is null && o.VaultUri is null && string.IsNullOrWhiteSpace(o.Name) && string.IsNullOrWhiteSpace(o.Path)
                      && string.IsNullOrWhiteSpace(o.CertificatePath) && string.IsNullOrWhiteSpace(o.KeyPath)
                      && string.IsNullOrWhiteSpace(o.ChainPath) && string.IsNullOrWhiteSpace(o.Version));
}
