using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Certificates;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// Validates the backend's certificate: chain (system trust, or only the profile's CA), host name
/// (always), the crypto strength of every certificate in the chain (unless the profile allows legacy
/// crypto), then the profile's pins. There is no accept-anything switch. A CA in TrustedCa need not be
/// a root: a partner's issuing intermediate is accepted as the anchor, as curl and nginx accept it.
/// Every rejection says which certificate and why, in the words an operator can act on.
/// </summary>
internal sealed class ServerCertificateValidator(X509Certificate2Collection? trustedCa, IReadOnlyList<byte[]> pins, bool allowLegacyCrypto = false)
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    public bool Validate(string targetHost, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            throw new ServerCertificateRejectedException("the backend presented no certificate");
        }
        var server = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            var names = CertificateFacts.SubjectAlternativeNames(server);
            throw new ServerCertificateRejectedException(
                $"the backend's certificate is not valid for the host name '{targetHost}': it names " +
                (names.Count == 0 ? $"no alternative names (subject {LogText.Quote(server.Subject)})" : LogText.QuoteList(names, ", ")) +
                ". Call it by one of those names, or the partner must issue one that includes it");
        }
        IReadOnlyList<X509Certificate2> path;
        if (trustedCa is not null)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(trustedCa);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // As the system trust path does: a certificate made for clients (clientAuth only) cannot act as a server.
            custom.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthentication));
            if (chain is not null)
            {
                custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            }
            // A non-root CA of TrustedCa must be findable as an issuer to end the path there.
            custom.ChainPolicy.ExtraStore.AddRange(trustedCa);
            var built = custom.Build(server);
            var elements = custom.ChainElements.Select(e => e.Certificate).ToList();
            if (!built && !EndsAtTrustedIntermediate(custom, out elements))
            {
                throw new ServerCertificateRejectedException(ChainProblem(custom, server, "the profile's TrustedCa"));
            }
            path = elements;
        }
        else
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                throw new ServerCertificateRejectedException(chain is null
                    ? "the backend's certificate is not trusted by the system trust store (no chain); set TrustedCa on the profile for a private CA"
                    : ChainProblem(chain, server, "the system trust store") + (IsTimeOnly(chain) ? "" : "; set TrustedCa on the profile for a private CA"));
            }
            path = chain?.ChainElements.Select(e => e.Certificate).ToList() ?? [server];
        }
        if (!allowLegacyCrypto && LegacyCrypto(path) is { } weakness)
        {
            throw new ServerCertificateRejectedException(
                $"the backend's chain uses legacy crypto: {weakness}. Ask the partner for a current certificate " +
                "(or set AllowLegacyServerCrypto on the profile to accept it: not recommended)");
        }
        return CheckPins(path);
    }

    /// <summary>The first legacy-crypto weakness in a chain (leaf first), or null.</summary>
    public static string? LegacyCrypto(IReadOnlyList<X509Certificate2> path)
    {
        for (var i = 0; i < path.Count; i++)
        {
            var anchor = i == path.Count - 1 && CertificateFacts.IsSelfIssued(path[i]);
            if (CertificateFacts.Weakness(path[i], anchor) is { } weakness)
            {
                return weakness;
            }
        }
        return null;
    }

    /// <summary>
    /// The chain failed only because it ends at a CA of TrustedCa that is not self-signed (partial chain):
    /// then that CA is the anchor. Every link up to it must be otherwise clean (time, usage, signature).
    /// </summary>
    private bool EndsAtTrustedIntermediate(X509Chain chain, out List<X509Certificate2> path)
    {
        path = [];
        var anchors = trustedCa!.Where(c => !CertificateFacts.IsSelfIssued(c)).ToList();
        if (anchors.Count == 0)
        {
            return false;
        }
        for (var i = 0; i < chain.ChainElements.Count; i++)
        {
            var element = chain.ChainElements[i];
            if (element.ChainElementStatus.Any(s => s.Status is not (X509ChainStatusFlags.NoError or X509ChainStatusFlags.PartialChain)))
            {
                return false;
            }
            path.Add(element.Certificate);
            if (anchors.Any(a => a.RawData.AsSpan().SequenceEqual(element.Certificate.RawData)))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsTimeOnly(X509Chain chain) =>
        chain.ChainStatus.All(s => s.Status is X509ChainStatusFlags.NotTimeValid or X509ChainStatusFlags.NoError);

    /// <summary>What is wrong with a chain, most specific first: validity dates, purpose, signature, then trust.</summary>
    private static string ChainProblem(X509Chain chain, X509Certificate2 server, string trust)
    {
        var elements = chain.ChainElements;
        for (var i = 0; i < elements.Count; i++)
        {
            var element = elements[i];
            var which = i == 0 ? $"the backend's certificate '{LogText.Quote(element.Certificate.Subject)}'" : $"the CA certificate '{LogText.Quote(element.Certificate.Subject)}' in the backend's chain";
            var flags = element.ChainElementStatus.Select(s => s.Status).ToHashSet();
            if (flags.Contains(X509ChainStatusFlags.NotTimeValid))
            {
                var now = DateTimeOffset.UtcNow;
                var notBefore = CertificateFacts.NotBefore(element.Certificate);
                var notAfter = CertificateFacts.NotAfter(element.Certificate);
                return notBefore > now
                    ? $"{which} is not valid yet: its validity starts {CertificateFacts.Date(notBefore)} (valid until {CertificateFacts.Date(notAfter)}). " +
                      "The partner installed it too early, or a clock is wrong"
                    : $"{which} expired on {CertificateFacts.Date(notAfter)} (valid from {CertificateFacts.Date(notBefore)}); " +
                      "the partner must renew it. The chain and host name are otherwise fine";
            }
            if (flags.Contains(X509ChainStatusFlags.NotValidForUsage))
            {
                return $"{which} chains to {trust} but is not made for servers (its extended key usage lacks serverAuth)";
            }
            if (flags.Contains(X509ChainStatusFlags.NotSignatureValid))
            {
                return $"{which} has a signature that does not verify against its issuer's key";
            }
            if (flags.Contains(X509ChainStatusFlags.Revoked))
            {
                return $"{which} is revoked";
            }
        }
        var last = elements.Count > 0 ? elements[^1].Certificate : server;
        var sent = string.Join(" → ", elements.Select(e => $"'{LogText.Quote(e.Certificate.Subject)}'"));
        if (CertificateFacts.IsSelfIssued(last))
        {
            return elements.Count <= 1
                ? $"the backend's certificate '{LogText.Quote(last.Subject)}' is self-signed and not in {trust}: add it to TrustedCa, or ask for one from a CA"
                : $"the backend's chain ({sent}) ends at the root '{LogText.Quote(last.Subject)}', which is not in {trust}: add that root to TrustedCa if the partner's CA is right";
        }
        return $"the backend's chain ({sent}) stops at '{LogText.Quote(last.Subject)}', whose issuer '{LogText.Quote(last.Issuer)}' is neither sent by the backend nor in {trust}. " +
               "The backend may not be sending its intermediate (nginx: ssl_certificate must hold the full chain), or TrustedCa lacks the partner's CA";
    }

    private bool CheckPins(IReadOnlyList<X509Certificate2> path)
    {
        if (pins.Count == 0)
        {
            return true;
        }
        foreach (var certificate in path)
        {
            var spki = SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo());
            var whole = SHA256.HashData(certificate.RawData);
            if (pins.Any(p => p.AsSpan().SequenceEqual(spki) || p.AsSpan().SequenceEqual(whole)))
            {
                return true;
            }
        }
        throw new ServerCertificateRejectedException(
            "no certificate in the backend's chain matches the profile's ServerCertificatePins (the chain's public-key pins: " +
            string.Join(", ", path.Select(c => $"'{LogText.Quote(c.Subject)}' {CertificateFacts.SpkiPin(c)}")) + ")");
    }
}

/// <summary>The backend's certificate failed our checks; the message says which and why.</summary>
internal sealed class ServerCertificateRejectedException(string message) : Exception(message);
