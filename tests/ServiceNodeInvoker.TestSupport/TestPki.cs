using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Standalone.Demo;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>Certificates made once per test run: root → intermediate → leaves, plus an unrelated CA.</summary>
public sealed class TestPki
{
    public static readonly TestPki Instance = new();

    private TestPki()
    {
        Root = CertificateAuthority.CreateRoot("Test Root CA");
        Intermediate = Root.CreateIntermediate("Test Intermediate CA");
        ClientRsa = Intermediate.IssueClient("bot-client-rsa");
        ClientEc = Intermediate.IssueClient("bot-client-ec", KeyKind.Ecdsa);
        Server = Intermediate.IssueServer(["localhost", "127.0.0.1"]);
        WrongNameServer = Intermediate.IssueServer(["backend.other.example"]);
        OtherRoot = CertificateAuthority.CreateRoot("Unrelated Root CA");
        OtherIntermediate = OtherRoot.CreateIntermediate("Unrelated Intermediate CA");
        UntrustedServer = OtherIntermediate.IssueServer(["localhost", "127.0.0.1"]);
        OtherClient = OtherIntermediate.IssueClient("bot-client-unrelated");
    }

    public CertificateAuthority Root { get; }
    public CertificateAuthority Intermediate { get; }
    public X509Certificate2 ClientRsa { get; }
    public X509Certificate2 ClientEc { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 WrongNameServer { get; }
    public CertificateAuthority OtherRoot { get; }
    public CertificateAuthority OtherIntermediate { get; }
    public X509Certificate2 UntrustedServer { get; }
    public X509Certificate2 OtherClient { get; }

    public X509Certificate2 RootPublic => X509CertificateLoader.LoadCertificate(Root.Certificate.RawData);

    public X509Certificate2 IntermediatePublic => X509CertificateLoader.LoadCertificate(Intermediate.Certificate.RawData);

    /// <summary>
    /// A client certificate issued by <see cref="Intermediate"/> whose subject is exactly <c>CN=</c><paramref name="commonName"/>,
    /// control characters and length included: a partner's or a vault's certificate is text we did not write.
    /// </summary>
    public X509Certificate2 ClientNamed(string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var ca = Intermediate.Certificate;
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(NameOf(commonName), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(OddCertificates.ClientAuth)], false));
        using var caKey = ca.GetRSAPrivateKey()!;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1), notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A self-signed CA certificate (public part only) whose subject is exactly <c>CN=</c><paramref name="commonName"/>.</summary>
    public static X509Certificate2 CaNamed(string commonName, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(NameOf(commonName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), notAfter);
        return X509CertificateLoader.LoadCertificate(made.RawData);
    }

    /// <summary>
    /// A server certificate issued by <see cref="Intermediate"/> whose subject alternative names are exactly
    /// <paramref name="dnsNames"/>, control characters and count included (written as raw IA5Strings: a partner's backend
    /// chose them, not us).
    /// </summary>
    public X509Certificate2 ServerWithDnsNames(IEnumerable<string> dnsNames)
    {
        var ca = Intermediate.Certificate;
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(NameOf("hostile-backend"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(OddCertificates.ServerAuth)], false));
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var name in dnsNames)
            {
                writer.WriteCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, name,
                    new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 2));
            }
        }
        request.CertificateExtensions.Add(new X509Extension("2.5.29.17", writer.Encode(), false));
        using var caKey = ca.GetRSAPrivateKey()!;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        return issued.CopyWithPrivateKey(key);
    }

    private static X500DistinguishedName NameOf(string commonName)
    {
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(commonName);
        return name.Build();
    }

    /// <summary>A backend that requires a client certificate chaining to <see cref="Root"/>.</summary>
    public Task<MutualTlsBackend> StartBackendAsync(Action<WebApplication>? routes = null, X509Certificate2? server = null,
        bool requireClientCertificate = true, System.Security.Authentication.SslProtocols protocols = default,
        X509Certificate2? clientRoot = null, bool announceClientRoot = false) =>
        MutualTlsBackend.StartAsync(new MutualTlsBackendOptions
        {
            ServerCertificate = server ?? Server,
            ServerChain = server == UntrustedServer ? OtherIntermediate.Intermediates() : Intermediate.Intermediates(),
            ClientRoot = requireClientCertificate ? clientRoot ?? RootPublic : null,
            Protocols = protocols,
            AnnounceClientRoot = announceClientRoot,
        }, routes);
}
