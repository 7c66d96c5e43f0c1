using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Standalone.Demo;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// Certificates partners get wrong: out of their validity period, weak keys, SHA-1 signatures, the wrong
/// purpose, self-signed. Made in the test, issued by the test PKI's intermediate unless said otherwise.
/// </summary>
public static class OddCertificates
{
    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary>A leaf for <paramref name="names"/> with its private key.</summary>
    public static X509Certificate2 Leaf(string[] names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, int rsaBits = 2048,
        HashAlgorithmName? hash = null, string eku = ServerAuth, CertificateAuthority? issuer = null, X509KeyUsageFlags usage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment)
    {
        var ca = (issuer ?? TestPki.Instance.Intermediate).Certificate;
        using var key = RSA.Create(rsaBits);
        var request = new CertificateRequest($"CN={names[0]}", key, hash ?? HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        request.CertificateExtensions.Add(Names(names));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var caKey = ca.GetRSAPrivateKey()!;
        var now = DateTimeOffset.UtcNow;
        X509SignatureGenerator generator = hash == HashAlgorithmName.SHA1 ? new Sha1RsaGenerator(caKey) : X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1);
        using var issued = request.Create(ca.SubjectName, generator, notBefore ?? now.AddDays(-1), notAfter ?? now.AddYears(1), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A self-signed server certificate (no CA behind it).</summary>
    public static X509Certificate2 SelfSigned(string[] names)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth)], false));
        request.CertificateExtensions.Add(Names(names));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
    }

    private static X509Extension Names(string[] names)
    {
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var ip)) { san.AddIpAddress(ip); } else { san.AddDnsName(name); }
        }
        return san.Build();
    }

    /// <summary>sha1WithRSAEncryption, which .NET's own generator no longer makes: what old partner certificates carry.</summary>
    private sealed class Sha1RsaGenerator(RSA key) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) =>
            [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05, 0x05, 0x00];

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) => key.SignData(data, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);

        protected override PublicKey BuildPublicKey() => new(key);
    }
}
