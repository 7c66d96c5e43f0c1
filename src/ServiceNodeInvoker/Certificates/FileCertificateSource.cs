using ServiceNodeInvoker.Profiles;
namespace ServiceNodeInvoker.Certificates;

/// <summary>A PFX file (client certificate with key and chain), or a CA file in PEM, DER or PFX form.</summary>
internal sealed class FileCertificateSource(string path, string? password, CertificateRole role) : ICertificateSource
{
    public string Description => $"file '{Path.GetFileName(path)}'";

    public string Location => path;

    public async Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken)
    {
        var content = await FileContent.ReadAsync(path, cancellationToken);
        if (role == CertificateRole.Client && content.AsSpan().IndexOf("-----BEGIN "u8) >= 0)
        {
            throw new CertificateLoadException($"the file '{Path.GetFileName(path)}' is PEM text, not a PFX: Source=File takes a PKCS#12 (PFX) file. " +
                "For PEM files set Source=Pem with CertificatePath, KeyPath (and ChainPath for the intermediates)");
        }
        var certificates = role == CertificateRole.Client
            ? CertificateReader.ReadPkcs12(content, password)
            : CertificateReader.ReadCertificates(content, password);
        return new LoadedCertificates(certificates, Version: null);
    }
}

/// <summary>Separate PEM files: certificate (optionally followed by its chain), key, optional chain.</summary>
internal sealed class PemCertificateSource(string certificatePath, string? keyPath, string? chainPath, string? password, CertificateRole role)
    : ICertificateSource
{
    public string Description => $"PEM file '{Path.GetFileName(certificatePath)}'";

    public string Location => string.Join(", ", new[] { certificatePath, keyPath, chainPath }.Where(p => p is not null));

    public async Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken)
    {
        var certificates = System.Text.Encoding.ASCII.GetString(await FileContent.ReadAsync(certificatePath, cancellationToken));
        if (!certificates.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new CertificateLoadException($"the file '{Path.GetFileName(certificatePath)}' (CertificatePath) holds no CERTIFICATE block" +
                (role == CertificateRole.Client ? ": it must hold the leaf certificate (ChainPath holds only the intermediates)" : ""));
        }
        if (chainPath is not null)
        {
            certificates += "\n" + System.Text.Encoding.ASCII.GetString(await FileContent.ReadAsync(chainPath, cancellationToken));
        }
        if (role == CertificateRole.TrustedCa)
        {
            return new LoadedCertificates(CertificateReader.ReadCertificates(System.Text.Encoding.ASCII.GetBytes(certificates), null), null);
        }
        var key = System.Text.Encoding.ASCII.GetString(await FileContent.ReadAsync(keyPath!, cancellationToken));
        return new LoadedCertificates(CertificateReader.ReadPem(certificates, key, password), Version: null);
    }
}

internal static class FileContent
{
    private const int MaxBytes = 1024 * 1024; // certificates are kilobytes; refuse anything absurd

    public static async Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new CertificateLoadException($"the file '{Path.GetFileName(path)}' does not exist");
            }
            if (info.Length > MaxBytes)
            {
                throw new CertificateLoadException($"the file '{Path.GetFileName(path)}' is larger than 1 MiB and is not a certificate");
            }
            return await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CertificateLoadException($"the file '{Path.GetFileName(path)}' could not be read ({e.GetType().Name})", e);
        }
    }
}
