using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Standalone.Demo;

public enum KeyKind
{
    Rsa,
    Ecdsa,
}

/// <summary>
/// A throwaway certificate authority for the demo (and the tests): root → intermediate → leaves.
/// Nothing it makes is meant to outlive the process.
/// </summary>
public sealed class CertificateAuthority
{
    private CertificateAuthority(X509Certificate2 certificate, CertificateAuthority? parent)
    {
        Certificate = certificate;
        Parent = parent;
    }

    /// <summary>The CA's own certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public CertificateAuthority? Parent { get; }

    public static CertificateAuthority CreateRoot(string commonName, DateTimeOffset? notAfter = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddCaExtensions(request);
        var now = DateTimeOffset.UtcNow;
        return new CertificateAuthority(request.CreateSelfSigned(now.AddDays(-1), notAfter ?? now.AddYears(5)), null);
    }

    public CertificateAuthority CreateIntermediate(string commonName)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddCaExtensions(request);
        var issued = Issue(request, Certificate.NotAfter.AddDays(-1));
        return new CertificateAuthority(issued.CopyWithPrivateKey(key), this);
    }

    /// <summary>A client certificate (clientAuth EKU) with its private key.</summary>
    public X509Certificate2 IssueClient(string commonName, KeyKind kind = KeyKind.Rsa, DateTimeOffset? notAfter = null) =>
        IssueLeaf($"CN={commonName}", kind, "1.3.6.1.5.5.7.3.2", null, notAfter);

    /// <summary>A server certificate (serverAuth EKU unless another is given) for the given DNS names and IP addresses.</summary>
    public X509Certificate2 IssueServer(IEnumerable<string> names, KeyKind kind = KeyKind.Rsa, string eku = "1.3.6.1.5.5.7.3.1")
    {
        var san = new SubjectAlternativeNameBuilder();
        var list = names.ToList();
        foreach (var name in list)
        {
            if (IPAddress.TryParse(name, out var ip)) { san.AddIpAddress(ip); } else { san.AddDnsName(name); }
        }
        return IssueLeaf($"CN={list[0]}", kind, eku, san.Build(), null);
    }

    /// <summary>This CA's chain up to but excluding the root, nearest first: what a leaf's holder sends.</summary>
    public X509Certificate2Collection Intermediates()
    {
        var chain = new X509Certificate2Collection();
        for (var ca = this; ca.Parent is not null; ca = ca.Parent)
        {
            chain.Add(X509CertificateLoader.LoadCertificate(ca.Certificate.RawData));
        }
        return chain;
    }

    public CertificateAuthority Root => Parent?.Root ?? this;

    private X509Certificate2 IssueLeaf(string subject, KeyKind kind, string eku, X509Extension? san, DateTimeOffset? notAfter)
    {
        var limit = notAfter ?? Certificate.NotAfter.AddDays(-2);
        if (kind == KeyKind.Ecdsa)
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, ec, HashAlgorithmName.SHA256);
            AddLeafExtensions(request, eku, san, digitalSignatureOnly: true);
            return Issue(request, limit).CopyWithPrivateKey(ec);
        }
        using var rsa = RSA.Create(2048);
        var rsaRequest = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddLeafExtensions(rsaRequest, eku, san, digitalSignatureOnly: false);
        return Issue(rsaRequest, limit).CopyWithPrivateKey(rsa);
    }

    private X509Certificate2 Issue(CertificateRequest request, DateTimeOffset notAfter)
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        if (notAfter <= notBefore)
        {
            notBefore = notAfter.AddDays(-30);
        }
        // CA keys are RSA; the generator overload lets an RSA CA sign an EC leaf.
        using var caKey = Certificate.GetRSAPrivateKey()!;
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        return request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1),
            notBefore, notAfter, serial);
    }

    private static void AddCaExtensions(CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }

    private static void AddLeafExtensions(CertificateRequest request, string eku, X509Extension? san, bool digitalSignatureOnly)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            digitalSignatureOnly ? X509KeyUsageFlags.DigitalSignature : X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }
    }
}
