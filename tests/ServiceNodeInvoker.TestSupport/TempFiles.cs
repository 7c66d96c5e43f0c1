using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>A temp folder of certificate files, written the way operators write them.</summary>
public sealed class TempFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("sni-test-").FullName;

    public string Pfx(string name, string? password, params X509Certificate2[] certificates)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, new X509Certificate2Collection(certificates).Export(X509ContentType.Pkcs12, password)!);
        return path;
    }

    public string CertificatePem(string name, params X509Certificate2[] certificates) =>
        Text(name, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));

    /// <summary>The leaf's private key in the requested PEM form.</summary>
    public string KeyPem(string name, X509Certificate2 leaf, string form, string? password = null)
    {
        AsymmetricAlgorithm key = (AsymmetricAlgorithm?)leaf.GetRSAPrivateKey() ?? leaf.GetECDsaPrivateKey()!;
        var pem = form switch
        {
            "pkcs8" => key.ExportPkcs8PrivateKeyPem(),
            "pkcs1" => ((RSA)key).ExportRSAPrivateKeyPem(),
            "sec1" => ((ECDsa)key).ExportECPrivateKeyPem(),
            "encrypted" => key.ExportEncryptedPkcs8PrivateKeyPem(password,
                new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000)),
            _ => throw new ArgumentOutOfRangeException(nameof(form)),
        };
        return Text(name, pem);
    }

    public string Text(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
