using ServiceNodeInvoker.Primitives;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Reads certificates and private keys from PKCS#12 and PEM content, from any source.
/// PEM keys may be PKCS#8 (plain or encrypted), PKCS#1 RSA or SEC1 EC.
/// </summary>
internal static class CertificateReader
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";

    public static X509Certificate2Collection ReadPkcs12(byte[] content, string? password)
    {
        try
        {
            return X509CertificateLoader.LoadPkcs12Collection(content, password, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException e)
        {
            throw new CertificateLoadException(
                "the PKCS#12 (PFX) content could not be read: the password is wrong or the content is not a valid PFX", e);
        }
    }

    /// <summary>Certificates in PEM, DER or PKCS#12 form, without requiring a key (trusted CAs).</summary>
    public static X509Certificate2Collection ReadCertificates(byte[] content, string? password)
    {
        var text = System.Text.Encoding.ASCII.GetString(content);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            var pem = new X509Certificate2Collection();
            pem.ImportFromPem(text);
            return pem;
        }
        try
        {
            if (X509Certificate2.GetCertContentType(content) == X509ContentType.Pkcs12)
            {
                return ReadPkcs12(content, password);
            }
            return [X509CertificateLoader.LoadCertificate(content)];
        }
        catch (CryptographicException e)
        {
            throw new CertificateLoadException("the content is not a certificate in PEM, DER or PKCS#12 form", e);
        }
    }

    /// <summary>
    /// Certificates and one private key in PEM. The certificate whose public key matches the key
    /// becomes the leaf (order does not matter); the rest stay as they are.
    /// </summary>
    public static X509Certificate2Collection ReadPem(string certificatesPem, string keyPem, string? password)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(certificatesPem);
        if (certificates.Count == 0)
        {
            throw new CertificateLoadException("no CERTIFICATE block was found");
        }
        using var key = ImportKey(keyPem, password, certificates[0]);
        for (var i = 0; i < certificates.Count; i++)
        {
            var withKey = TryAttach(certificates[i], key);
            if (withKey is not null)
            {
                var result = new X509Certificate2Collection();
                for (var j = 0; j < certificates.Count; j++)
                {
                    result.Add(j == i ? withKey : certificates[j]);
                }
                certificates[i].Dispose();
                return result;
            }
        }
        throw new CertificateLoadException(
            $"the private key ({(key is ECDsa ? "EC" : "RSA")}) belongs to none of the {certificates.Count} certificate(s) given " +
            $"({string.Join("; ", certificates.Select(c => LogText.Quote(c.Subject)))}): CertificatePath must hold the leaf that goes with KeyPath");
    }

    private static AsymmetricAlgorithm ImportKey(string keyPem, string? password, X509Certificate2 first)
    {
        var hasRsa = keyPem.Contains("RSA PRIVATE KEY", StringComparison.Ordinal);
        var hasEc = keyPem.Contains("EC PRIVATE KEY", StringComparison.Ordinal);
        var encrypted = keyPem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal);
        if (!hasRsa && !hasEc && !keyPem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new CertificateLoadException("no private key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) was found");
        }
        if (encrypted && password is null)
        {
            throw new CertificateLoadException("the private key is encrypted and no password is configured");
        }
        // A PKCS#8 label does not say the algorithm, and the first certificate may be an intermediate of
        // another key type: try RSA and EC, the certificate's own type first.
        Func<AsymmetricAlgorithm>[] candidates = hasRsa ? [RSA.Create] : hasEc ? [ECDsa.Create]
            : first.PublicKey.Oid.Value == EcOid ? [ECDsa.Create, RSA.Create] : [RSA.Create, ECDsa.Create];
        Exception? last = null;
        foreach (var create in candidates)
        {
            var key = create();
            try
            {
                if (encrypted)
                {
                    key.ImportFromEncryptedPem(keyPem, password);
                }
                else
                {
                    key.ImportFromPem(keyPem);
                }
                return key;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                key.Dispose();
                last = e;
            }
        }
        throw new CertificateLoadException(
            encrypted ? "the private key could not be decrypted: the password is wrong or the key is corrupt"
                      : $"the private key could not be read as {(hasRsa ? "an RSA" : hasEc ? "an EC" : "an RSA or EC")} key (the block is corrupt)", last);
    }

    private static X509Certificate2? TryAttach(X509Certificate2 certificate, AsymmetricAlgorithm key)
    {
        try
        {
            return (key, certificate.PublicKey.Oid.Value) switch
            {
                (RSA rsa, RsaOid) => certificate.CopyWithPrivateKey(rsa),
                (ECDsa ec, EcOid) => certificate.CopyWithPrivateKey(ec),
                _ => null,
            };
        }
        catch (ArgumentException)
        {
            return null; // key does not match this certificate's public key
        }
    }
}
