using System.Collections.Concurrent;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// The CAs each backend said it accepts for client certificates (the certificate_authorities of its CertificateRequest), as
/// last seen by the probe or in a TLS 1.2 handshake (under TLS 1.3 that message is encrypted, and only the probe's own
/// handshake learns it). A refusal of our certificate names them, so the reply says what the server wants, not only
/// that it refused.
/// </summary>
internal sealed class AcceptedIssuers(TimeProvider time)
{
    /// <summary>What one server named, and when it was seen.</summary>
    public sealed record Seen(IReadOnlyList<string> Issuers, DateTimeOffset At, string How);

    private readonly ConcurrentDictionary<(string Profile, HostKey Host), Seen> _seen = new();
    private volatile bool _any; // until something is recorded, every lookup (one per invocation) is one read

    public void Record(TlsProfile profile, HostKey host, IReadOnlyList<string> issuers, string how)
    {
        _seen[(profile.Name, host)] = new Seen(issuers.ToArray(), time.GetUtcNow(), how);
        _any = true;
    }

    public Seen? Of(TlsProfile profile, HostKey host) => _any ? _seen.GetValueOrDefault((profile.Name, host)) : null;
}
