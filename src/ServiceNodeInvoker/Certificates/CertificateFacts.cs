using ServiceNodeInvoker.Primitives;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Plain facts about one certificate, worded the same everywhere (health, the probe, error replies):
/// its key, signature algorithm, names, pins and validity, and the weaknesses browsers, Go's
/// crypto/x509 and OpenSSL's defaults refuse (RSA or DSA keys under 2048 bits, EC keys under 256 bits,
/// SHA-1 or MD5 signatures). Never secret material.
/// </summary>
internal static class CertificateFacts
{
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
    private const string AnyExtendedKeyUsage = "2.5.29.37.0";

    /// <summary>"RSA 2048", "EC P-256 (256 bits)".</summary>
    public static string KeyDescription(X509Certificate2 certificate)
    {
        var (algorithm, bits) = Key(certificate);
        return algorithm == "EC" ? $"EC {bits} bits" : $"{algorithm} {bits} bits";
    }

    public static string SignatureAlgorithm(X509Certificate2 certificate) =>
        certificate.SignatureAlgorithm.FriendlyName ?? certificate.SignatureAlgorithm.Value ?? "unknown";

    /// <summary>The SHA-256 pin of the public key in the form <c>ServerCertificatePins</c> takes: <c>sha256/&lt;base64&gt;</c>.</summary>
    public static string SpkiPin(X509Certificate2 certificate) =>
        "sha256/" + Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    public static string ThumbprintSha256(X509Certificate2 certificate) => Convert.ToHexString(SHA256.HashData(certificate.RawData));

    /// <summary>The DNS names and IP addresses of the subject alternative name extension.</summary>
    public static IReadOnlyList<string> SubjectAlternativeNames(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var san in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            names.AddRange(san.EnumerateDnsNames());
            names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
        }
        return names;
    }

    public static bool IsSelfIssued(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    public static DateTimeOffset NotBefore(X509Certificate2 certificate) => new(certificate.NotBefore.ToUniversalTime());

    public static DateTimeOffset NotAfter(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime());

    public static string Date(DateTimeOffset when) => when.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Why this certificate's crypto is too weak, or null. <paramref name="isTrustAnchor"/>: a self-signed
    /// root's own signature is not checked by anyone, so only its key counts.
    /// </summary>
    public static string? Weakness(X509Certificate2 certificate, bool isTrustAnchor)
    {
        var (algorithm, bits) = Key(certificate);
        var minimum = algorithm switch { "RSA" or "DSA" => 2048, "EC" => 256, _ => 0 };
        if (bits > 0 && bits < minimum)
        {
            return $"'{LogText.Quote(certificate.Subject)}' has a {bits}-bit {algorithm} key (at least {minimum} bits are required)";
        }
        if (!isTrustAnchor && certificate.SignatureAlgorithm.Value is { } oid && WeakSignatures.TryGetValue(oid, out var name))
        {
            return $"'{LogText.Quote(certificate.Subject)}' is signed with {name}, which is broken for certificates (SHA-256 or better is required)";
        }
        return null;
    }

    private static readonly Dictionary<string, string> WeakSignatures = new()
    {
        ["1.2.840.113549.1.1.5"] = "SHA-1 (sha1WithRSAEncryption)",
        ["1.2.840.113549.1.1.4"] = "MD5 (md5WithRSAEncryption)",
        ["1.2.840.113549.1.1.2"] = "MD2 (md2WithRSAEncryption)",
        ["1.2.840.10045.4.1"] = "SHA-1 (ecdsa-with-SHA1)",
        ["1.2.840.10040.4.3"] = "SHA-1 (dsa-with-sha1)",
        ["1.3.14.3.2.29"] = "SHA-1 (sha1WithRSASignature)",
    };

    /// <summary>Why a certificate cannot authenticate a TLS client (its extended key usage lacks clientAuth), or null.</summary>
    public static string? NotForClientAuthentication(X509Certificate2 certificate)
    {
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages;
        if (usages is null || usages.Count == 0)
        {
            return null; // no EKU extension: any purpose
        }
        var listed = usages.Cast<Oid>().Select(o => o.Value).ToList();
        if (listed.Contains(ClientAuthentication) || listed.Contains(AnyExtendedKeyUsage))
        {
            return null;
        }
        var names = string.Join(", ", usages.Cast<Oid>().Select(o => o.FriendlyName ?? o.Value));
        return $"the client certificate '{LogText.Quote(certificate.Subject)}' is not made for client authentication: its extended key usage is {names} " +
               "and lacks clientAuth (1.3.6.1.5.5.7.3.2), so backends refuse it (a server certificate used by mistake?)";
    }

    private static (string Algorithm, int Bits) Key(X509Certificate2 certificate)
    {
        switch (certificate.PublicKey.Oid.Value)
        {
            case "1.2.840.113549.1.1.1":
                using (var rsa = certificate.GetRSAPublicKey())
                {
                    return ("RSA", rsa?.KeySize ?? 0);
                }
            case "1.2.840.10045.2.1":
                using (var ec = certificate.GetECDsaPublicKey())
                {
                    return ("EC", ec?.KeySize ?? 0);
                }
            case "1.2.840.10040.4.1":
                return ("DSA", DsaBits(certificate));
            default:
                return (certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value ?? "unknown", 0);
        }
    }

    /// <summary>A DSA key's size: the bit length of its prime p, from the key's parameters.</summary>
    private static int DsaBits(X509Certificate2 certificate)
    {
        try
        {
            var reader = new AsnReader(certificate.PublicKey.EncodedParameters?.RawData ?? [], AsnEncodingRules.DER).ReadSequence();
            var p = reader.ReadIntegerBytes().Span;
            var trimmed = p.TrimStart((byte)0);
            return trimmed.Length * 8;
        }
        catch (AsnContentException)
        {
            return 0;
        }
    }
}
