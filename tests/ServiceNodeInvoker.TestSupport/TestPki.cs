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
