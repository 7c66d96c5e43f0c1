using ServiceNodeInvoker.Primitives;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// How a refresh judges what it read against what is held. Whether the material changed is judged by all of it
/// (<see cref="ProfileMaterial.Version"/>: leaf, chain, trusted CA); a replacement client certificate that is worse than
/// the one in use is refused like a failed read: the last good one keeps serving, and the refusal is the refresh's error.
/// </summary>
internal partial class CertificateCache
{
    /// <summary>
    /// Why <paramref name="candidate"/> may not replace the client certificate in use (null: it may). Only a certificate
    /// that is usable now is defended: one that has expired, is not valid yet, is not made for client authentication, may
    /// not sign, or whose private key does not belong to it. With nothing usable held, whatever loaded is taken (health and
    /// the 503 say what is wrong with it).
    /// </summary>
    private string? ReplacementRefusal(ClientCertificate candidate)
    {
        var held = _current?.Client;
        if (held is null || held.ThumbprintSha256 == candidate.ThumbprintSha256)
        {
            return null; // the first load, or the same leaf (a chain of its own is no defect of the leaf)
        }
        var now = time.GetUtcNow();
        if (Defects(held, now).Count > 0)
        {
            return null;
        }
        var defects = Defects(candidate, now);
        if (defects.Count == 0)
        {
            return null;
        }
        return $"the client certificate from {clientSource!.Description} now holds '{LogText.Quote(candidate.Subject)}' (SHA-256 {candidate.ThumbprintSha256}), " +
               $"which was refused: {string.Join("; ", defects)}. The certificate in use is kept (SHA-256 {held.ThumbprintSha256}, " +
               $"valid until {CertificateFacts.Date(held.NotAfter)}): replace the source's content with a usable certificate and refresh again";
    }

    /// <summary>What makes a client certificate unusable for calls now.</summary>
    private static List<string> Defects(ClientCertificate certificate, DateTimeOffset now)
    {
        var defects = new List<string>();
        if (certificate.NotAfter <= now)
        {
            defects.Add($"it expired on {CertificateFacts.Date(certificate.NotAfter)}");
        }
        else if (certificate.NotBefore > now)
        {
            defects.Add($"it is not valid before {CertificateFacts.Date(certificate.NotBefore)}");
        }
        defects.AddRange(certificate.Problems);
        if (KeyMismatch(certificate.Leaf) is { } key)
        {
            defects.Add(key);
        }
        return defects;
    }

    /// <summary>Whether the private key signs what the certificate's public key verifies: a key of another certificate cannot.</summary>
    private static string? KeyMismatch(X509Certificate2 leaf)
    {
        var data = "service-node-invoker key check"u8;
        try
        {
            bool matches;
            using (var rsa = leaf.GetRSAPrivateKey())
            using (var publicRsa = leaf.GetRSAPublicKey())
            {
                if (rsa is not null && publicRsa is not null)
                {
                    matches = publicRsa.VerifyData(data, rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss), HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
                    return matches ? null : $"its private key does not belong to it (a signature made with the key does not verify with the certificate's public key)";
                }
            }
            using (var ec = leaf.GetECDsaPrivateKey())
            using (var publicEc = leaf.GetECDsaPublicKey())
            {
                if (ec is not null && publicEc is not null)
                {
                    matches = publicEc.VerifyData(data, ec.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256);
                    return matches ? null : $"its private key does not belong to it (a signature made with the key does not verify with the certificate's public key)";
                }
            }
            return null; // another key type: the handshake judges it
        }
        catch (CryptographicException e)
        {
            return $"its private key cannot sign ({e.GetType().Name})";
        }
    }

    /// <summary>
    /// An operator's re-read (the refresh endpoint): a read that starts after the request. A load already under way may
    /// have read the source before the operator replaced it, so it is waited for, not joined.
    /// </summary>
    public async Task RereadAsync(CancellationToken cancellationToken)
    {
        Task<ProfileMaterial>? running;
        lock (_gate)
        {
            running = _inflight is { IsCompleted: false } inflight ? inflight : null;
        }
        if (running is not null)
        {
            try
            {
                await running.WaitAsync(cancellationToken);
            }
            catch (CertificateLoadException)
            {
                // Recorded by that load; ours follows.
            }
        }
        await RefreshAsync(cancellationToken);
    }

    /// <summary>The end of the expired-certificate detail: what the last re-read actually found, never more.</summary>
    private string AfterExpiry()
    {
        lock (_gate)
        {
            return _lastError is { } error
                ? $"the last re-read of the source failed: {error}"
                : _lastRefresh is { } read
                    ? $"the source still held this certificate when last read ({read:yyyy-MM-dd'T'HH:mm:ss'Z'}): put a new one there and refresh"
                    : "the source has not been read successfully since";
        }
    }
}
