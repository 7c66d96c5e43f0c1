namespace ServiceNodeInvoker.Profiles;

/// <summary>The kinds of certificate source.</summary>
public enum CertificateSourceKind
{
    /// <summary>An Azure Key Vault certificate (its secret holds the key and the chain), read with the app's managed identity.</summary>
    KeyVault,

    /// <summary>A file: a PFX for a client certificate, or a CA in PEM, DER or PFX.</summary>
    File,

    /// <summary>PEM files: the certificate, its private key and an optional chain.</summary>
    Pem,
}

/// <summary>Where a certificate comes from: <c>KeyVault</c>, <c>File</c> (PFX, or a CA in PEM/DER) or <c>Pem</c>.</summary>
public sealed class CertificateSourceOptions
{
    /// <summary>Which kind of source this is.</summary>
    public CertificateSourceKind? Source { get; set; }

    /// <summary>KeyVault: the vault's https URI.</summary>
    public Uri? VaultUri { get; set; }

    /// <summary>KeyVault: the certificate's name in the vault.</summary>
    public string? Name { get; set; }

    /// <summary>KeyVault: a fixed version (default: the current one, followed on rotation).</summary>
    public string? Version { get; set; }

    /// <summary>File: the PFX (or CA file) path, relative to the content root.</summary>
    public string? Path { get; set; }

    /// <summary>File: the PFX password.</summary>
    public string? Password { get; set; }

    /// <summary>Pem: the certificate file's path.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Pem: the private key file's path.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Pem: the intermediates file's path, when they are not in the certificate file.</summary>
    public string? ChainPath { get; set; }

    /// <summary>
    /// A section whose settings are all empty (as app settings often leave them) counts as absent. A password alone
    /// does not: it would have no effect, so the section is checked (and refused for its missing Source).
    /// </summary>
    public static bool IsUnset(CertificateSourceOptions? o) =>
        o is null || (o.Source is null && o.VaultUri is null && string.IsNullOrWhiteSpace(o.Name) && string.IsNullOrWhiteSpace(o.Path)
                      && string.IsNullOrEmpty(o.Password)
                      && string.IsNullOrWhiteSpace(o.CertificatePath) && string.IsNullOrWhiteSpace(o.KeyPath)
                      && string.IsNullOrWhiteSpace(o.ChainPath) && string.IsNullOrWhiteSpace(o.Version));
}

/// <summary>What a configured certificate is for: a client certificate needs its private key; a CA does not.</summary>
internal enum CertificateRole
{
    Client,
    TrustedCa,
}

/// <summary>The start-up check of a certificate source's settings.</summary>
internal static class CertificateSourceRules
{
    /// <summary>A certificate source must be complete for its kind; an all-empty section counts as absent.</summary>
    public static void Check(CertificateSourceOptions? o, string setting, CertificateRole role, List<string> problems)
    {
        if (CertificateSourceOptions.IsUnset(o))
        {
            return;
        }
        void Require(string? value, string name, string what)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"{setting}:{name}: is missing: {what}.");
            }
        }
        switch (o!.Source)
        {
            case null:
                problems.Add($"{setting}:Source: is missing: use KeyVault, File or Pem.");
                break;
            case CertificateSourceKind.File:
                Require(o.Path, "Path", role == CertificateRole.Client ? "the PFX file's path" : "the CA file's path (PEM, DER or PFX)");
                break;
            case CertificateSourceKind.Pem:
                Require(o.CertificatePath, "CertificatePath", "the PEM certificate file's path");
                if (role == CertificateRole.Client)
                {
                    Require(o.KeyPath, "KeyPath", "the PEM private key file's path");
                }
                break;
            case CertificateSourceKind.KeyVault:
                if (o.VaultUri is null || !o.VaultUri.IsAbsoluteUri || o.VaultUri.Scheme != Uri.UriSchemeHttps || o.VaultUri.Host.Length == 0)
                {
                    problems.Add($"{setting}:VaultUri: must be the vault's https URI, such as https://my-vault.vault.azure.net/.");
                }
                Require(o.Name, "Name", "the certificate's name in the vault");
                break;
        }
        if (o.Source is { } kind)
        {
            Misplaced(o, setting, kind, role, problems);
        }
    }

    /// <summary>
    /// A setting of another kind of source beside the chosen one would be ignored, silently: a TrustedCa:CertificatePath next to
    /// Source=File and Path reads only Path. Each is refused with the kind that uses it.
    /// </summary>
    private static void Misplaced(CertificateSourceOptions o, string setting, CertificateSourceKind kind, CertificateRole role, List<string> problems)
    {
        (string Name, bool Set, CertificateSourceKind[] UsedBy)[] settings =
        [
            (nameof(o.VaultUri), o.VaultUri is not null, [CertificateSourceKind.KeyVault]),
            (nameof(o.Name), !string.IsNullOrWhiteSpace(o.Name), [CertificateSourceKind.KeyVault]),
            (nameof(o.Version), !string.IsNullOrWhiteSpace(o.Version), [CertificateSourceKind.KeyVault]),
            (nameof(o.Path), !string.IsNullOrWhiteSpace(o.Path), [CertificateSourceKind.File]),
            (nameof(o.Password), !string.IsNullOrEmpty(o.Password), [CertificateSourceKind.File, CertificateSourceKind.Pem]),
            (nameof(o.CertificatePath), !string.IsNullOrWhiteSpace(o.CertificatePath), [CertificateSourceKind.Pem]),
            (nameof(o.KeyPath), !string.IsNullOrWhiteSpace(o.KeyPath), role == CertificateRole.Client ? [CertificateSourceKind.Pem] : []),
            (nameof(o.ChainPath), !string.IsNullOrWhiteSpace(o.ChainPath), [CertificateSourceKind.Pem]),
        ];
        foreach (var (name, set, usedBy) in settings)
        {
            if (!set || usedBy.Contains(kind))
            {
                continue;
            }
            problems.Add(usedBy.Length == 0
                ? $"{setting}:{name}: a trusted CA has no private key, so KeyPath would be ignored: remove it."
                : $"{setting}:{name}: belongs to Source={string.Join(" or ", usedBy)} and would be ignored with Source={kind}: " +
                  $"remove it, or set Source={usedBy[0]} if that is the source meant.");
        }
    }
}
