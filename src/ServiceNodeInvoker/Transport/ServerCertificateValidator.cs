using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// Validates the backend's certificate: chain (system trust, or only the profile's CA), host name
/// (always), then the profile's pins. There is no accept-anything switch.
/// </summary>
public sealed class ServerCertificateValidator(X509Certificate2Collection? trustedCa, IReadOnlyList<byte[]> pins)
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    public bool Validate(string targetHost, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            throw new ServerCertificateRejectedException("the backend presented no certificate");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            throw new ServerCertificateRejectedException($"the backend's certificate is not valid for the host name '{targetHost}'");
        }
        var server = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        X509ChainElementCollection? elements;
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
            if (!custom.Build(server))
            {
                var status = custom.ChainStatus.Select(s => s.Status).ToHashSet();
                throw new ServerCertificateRejectedException(status.SetEquals([X509ChainStatusFlags.NotValidForUsage])
                    ? "the backend's certificate chains to the profile's TrustedCa but is not made for servers (its extended key usage lacks serverAuth)"
                    : $"the backend's certificate does not chain to the profile's TrustedCa ({Describe(custom)})");
            }
            elements = custom.ChainElements;
            return CheckPins(elements);
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            throw new ServerCertificateRejectedException(
                $"the backend's certificate is not trusted by the system trust store ({(chain is null ? "no chain" : Describe(chain))}); " +
                "set TrustedCa on the profile for a private CA");
        }
        return CheckPins(chain?.ChainElements);
    }

    private bool CheckPins(X509ChainElementCollection? elements)
    {
        if (pins.Count == 0)
        {
            return true;
        }
        foreach (var element in elements ?? throw new ServerCertificateRejectedException("no chain to check pins against"))
        {
            var spki = SHA256.HashData(element.Certificate.PublicKey.ExportSubjectPublicKeyInfo());
            var whole = SHA256.HashData(element.Certificate.RawData);
            if (pins.Any(p => p.AsSpan().SequenceEqual(spki) || p.AsSpan().SequenceEqual(whole)))
            {
                return true;
            }
        }
        throw new ServerCertificateRejectedException("no certificate in the backend's chain matches the profile's ServerCertificatePins");
    }

    private static string Describe(X509Chain chain)
    {
        var statuses = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct().ToArray();
        return statuses.Length == 0 ? "unknown reason" : string.Join(", ", statuses);
    }
}

/// <summary>The backend's certificate failed our checks; the message says which and why.</summary>
public sealed class ServerCertificateRejectedException(string message) : Exception(message);
