using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Standalone;

/// <summary>
/// Kestrel loads only the leaf of a PFX endpoint certificate (Kestrel:Endpoints:*:Certificate or
/// Kestrel:Certificates:Default with a Path and Password), so a caller that trusts only the root could not
/// build the chain. This reads the intermediates those PFX files hold and hands each TLS handshake a
/// certificate context that sends them. PEM endpoint certificates already carry their chain.
/// </summary>
internal sealed class ServerCertificateChains
{
    private readonly Dictionary<string, X509Certificate2Collection> _intermediatesByLeaf = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, SslStreamCertificateContext> _contexts = new(StringComparer.OrdinalIgnoreCase);

    public static ServerCertificateChains FromConfiguration(IConfiguration configuration, string contentRoot)
    {
        var chains = new ServerCertificateChains();
        var sections = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e.GetSection("Certificate"))
            .Append(configuration.GetSection("Kestrel:Certificates:Default"));
        foreach (var certificate in sections)
        {
            var path = certificate["Path"];
            if (string.IsNullOrWhiteSpace(path) || !string.IsNullOrWhiteSpace(certificate["KeyPath"]) || path.EndsWith(".pem", StringComparison.OrdinalIgnoreCase)
                || path.EndsWith(".crt", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            try
            {
                var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(Path.Combine(contentRoot, path), certificate["Password"], X509KeyStorageFlags.EphemeralKeySet);
                var leaf = all.FirstOrDefault(c => c.HasPrivateKey);
                if (leaf is null)
                {
                    continue;
                }
                var intermediates = new X509Certificate2Collection(all.Where(c => !c.HasPrivateKey && !c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData)).ToArray());
                if (intermediates.Count > 0)
                {
                    chains._intermediatesByLeaf[Thumbprint(leaf)] = intermediates;
                }
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                // Kestrel reports an unreadable endpoint certificate itself when it binds.
            }
        }
        return chains;
    }

    /// <summary>Puts the chain into the handshake's options when the certificate in them came from a PFX with intermediates.</summary>
    public void Apply(SslServerAuthenticationOptions options)
    {
        var leaf = options.ServerCertificateContext?.TargetCertificate ?? options.ServerCertificate as X509Certificate2;
        if (leaf is null || _intermediatesByLeaf.Count == 0 || !_intermediatesByLeaf.TryGetValue(Thumbprint(leaf), out var intermediates))
        {
            return;
        }
        options.ServerCertificateContext = _contexts.GetOrAdd(Thumbprint(leaf), _ => SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
        options.ServerCertificate = null;
    }

    private static string Thumbprint(X509Certificate2 certificate) => certificate.GetCertHashString(HashAlgorithmName.SHA256);
}
