using ServiceNodeInvoker.Primitives;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>A client certificate with its private key and the intermediates sent with it.</summary>
internal sealed class ClientCertificate
{
    private readonly X509Certificate2 _leaf = null!;

    /// <summary>The certificate with the private key. Its validity is read once here: X509Certificate2's dates convert through the local time zone on every read, and they are checked on every invocation.</summary>
    public required X509Certificate2 Leaf
    {
        get => _leaf;
        init
        {
            _leaf = value;
            NotAfter = new(value.NotAfter.ToUniversalTime());
            NotBefore = new(value.NotBefore.ToUniversalTime());
        }
    }

    public required X509Certificate2Collection Intermediates { get; init; }
    public required string ThumbprintSha256 { get; init; }
    public string? SourceVersion { get; init; }

    public string Subject => Leaf.Subject;
    public DateTimeOffset NotAfter { get; private init; }
    public DateTimeOffset NotBefore { get; private init; }

    /// <summary>Mistakes that make every backend refuse this certificate (health turns degraded): the wrong purpose, a key that cannot sign.</summary>
    public IReadOnlyList<string> Problems { get; private init; } = [];

    /// <summary>Mistakes that make some backends refuse it: the leaf's issuer is not among what we send.</summary>
    public IReadOnlyList<string> Warnings { get; private init; } = [];

    /// <summary>Picks the leaf (the certificate with a private key) and keeps the non-root others as intermediates.</summary>
    public static ClientCertificate From(LoadedCertificates loaded)
    {
        var withKey = loaded.Certificates.Where(c => c.HasPrivateKey).ToList();
        if (withKey.Count == 0)
        {
            throw new CertificateLoadException("it holds no certificate with a private key");
        }
        // Several keys is unusual; prefer the end-entity one.
        var leaf = withKey.FirstOrDefault(c => !IsCertificateAuthority(c)) ?? withKey[0];
        var intermediates = new X509Certificate2Collection();
        foreach (var certificate in loaded.Certificates)
        {
            // The backend holds the root; sending it only costs bytes.
            if (!ReferenceEquals(certificate, leaf) && !CertificateFacts.IsSelfIssued(certificate))
            {
                intermediates.Add(certificate);
            }
        }
        return new ClientCertificate
        {
            Leaf = leaf,
            Intermediates = intermediates,
            ThumbprintSha256 = CertificateFacts.ThumbprintSha256(leaf),
            SourceVersion = loaded.Version,
            Problems = ProblemsOf(leaf),
            Warnings = MissingIssuer(leaf, loaded.Certificates) is { } missing ? [missing] : [],
        };
    }

    private static List<string> ProblemsOf(X509Certificate2 leaf)
    {
        var problems = new List<string>();
        if (CertificateFacts.NotForClientAuthentication(leaf) is { } purpose)
        {
            problems.Add(purpose);
        }
        if (leaf.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage
            && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature))
        {
            problems.Add($"the client certificate '{LogText.Quote(leaf.Subject)}' may not sign (its key usage is {usage.KeyUsages} without digitalSignature), " +
                "which TLS client authentication needs, so backends refuse it");
        }
        return problems;
    }

    /// <summary>
    /// The leaf's issuer, when it is neither sent with it nor a root that came with it: a leaf-only PFX, PEM
    /// without ChainPath. It may be a root the backend holds (then all is well), but is usually an intermediate.
    /// </summary>
    private static string? MissingIssuer(X509Certificate2 leaf, X509Certificate2Collection loaded)
    {
        if (CertificateFacts.IsSelfIssued(leaf) || loaded.Any(c => !ReferenceEquals(c, leaf) && c.SubjectName.RawData.AsSpan().SequenceEqual(leaf.IssuerName.RawData)))
        {
            return null;
        }
        return $"the client certificate '{LogText.Quote(leaf.Subject)}' is sent without its issuer '{LogText.Quote(leaf.Issuer)}' (the certificate source holds no intermediate). " +
               $"If '{LogText.Quote(leaf.Issuer)}' is an intermediate CA, a backend that trusts only the root will refuse our certificate: " +
               "add the intermediate (a PFX that holds the chain, ChainPath for PEM, or a Key Vault certificate imported with its chain)";
    }

    private static bool IsCertificateAuthority(X509Certificate2 c) =>
        c.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
}

/// <summary>
/// Everything a profile's transport is built from. A new instance (new <see cref="Version"/>) means a
/// new handler: that is how rotation reaches the wire.
/// </summary>
internal sealed class ProfileMaterial
{
    public ClientCertificate? Client { get; init; }
    public X509Certificate2Collection? TrustedCa { get; init; }

    /// <summary>
    /// Identifies this exact material — what goes on the wire and what the server is judged by: the client leaf
    /// (whose thumbprint fixes its key), the intermediates sent with it, in order, and the trusted CA. A change to any
    /// of them is a change (a chain rebuilt around the same leaf included).
    /// </summary>
    public required string Version { get; init; }

    /// <summary>Increases with every material created, so a transport is only ever replaced by a newer one.</summary>
    public long Generation { get; } = Interlocked.Increment(ref s_generations);

    private static long s_generations;

    public static ProfileMaterial Create(ClientCertificate? client, X509Certificate2Collection? trustedCa)
    {
        var parts = new List<string> { client?.ThumbprintSha256 ?? "no-client-certificate" };
        if (client is not null)
        {
            parts.Add("chain");
            parts.AddRange(client.Intermediates.Select(Short));
        }
        if (trustedCa is not null)
        {
            parts.Add("trusted");
            parts.AddRange(trustedCa.Select(Short));
        }
        return new ProfileMaterial { Client = client, TrustedCa = trustedCa, Version = string.Join('.', parts) };
    }

    private static string Short(X509Certificate2 certificate) => Convert.ToHexString(SHA256.HashData(certificate.RawData))[..16];
}
