using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Reads certificates and private keys from PKCS#12 and PEM content, from any source.
/// PEM keys may be PKCS#8 (plain or encrypted), PKCS#1 RSA or SEC1 EC.
/// </summary>
public static class CertificateReader
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
        if (X509Certificate2.GetCertContentType(content) == X509ContentType.Pkcs12)
        {
            return ReadPkcs12(content, password);
        }
        try
        {
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
        throw new CertificateLoadException("the private key does not match the certificate");
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
        // For PKCS#8 the label does not say the algorithm: go by the certificate's key type.
        var useEc = hasEc || (!hasRsa && first.PublicKey.Oid.Value == EcOid);
        AsymmetricAlgorithm key = useEc ? ECDsa.Create() : RSA.Create();
        try
        {
            if (encrypted)
            {
                if (password is null)
                {
                    throw new CertificateLoadException("the private key is encrypted and no password is configured");
                }
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
            throw new CertificateLoadException(
                encrypted ? "the private key could not be decrypted: the password is wrong or the key is corrupt"
                          : $"the private key could not be read as {(useEc ? "an EC" : "an RSA")} key (the key type may not match the certificate)", e);
        }
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
