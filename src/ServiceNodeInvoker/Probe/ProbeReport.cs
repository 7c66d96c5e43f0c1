namespace ServiceNodeInvoker.Probe;

/// <summary>What the probe found for one profile.</summary>
/// <param name="Vault">Key Vault's own view of the client certificate (version, enabled, validity, renewal), when it comes from a vault.</param>
public sealed record ProfileProbeReport(string Profile, bool Ok, IReadOnlyList<HostProbeReport> Hosts, Certificates.VaultView? Vault = null);

/// <summary>What the probe found for one host:port, step by step, with a plain-words summary.</summary>
public sealed class HostProbeReport
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    public bool Ok { get; set; }
    public string Summary { get; set; } = "";
    public StepReport Dns { get; } = new();
    public StepReport Connect { get; } = new();
    public TlsReport Tls { get; } = new();
}

public class StepReport
{
    public double? Milliseconds { get; set; }
    public bool? Ok { get; set; }
    public string? Error { get; set; }
    public List<string> Addresses { get; } = [];
}

/// <summary>The TLS step. <c>Ok</c> means the handshake completed and the server's certificate passed our checks.</summary>
public sealed class TlsReport : StepReport
{
    /// <summary>The handshake itself completed (the first pass completes it even with a server certificate we reject).</summary>
    public bool? HandshakeCompleted { get; set; }

    public string? Protocol { get; set; }
    public string? CipherSuite { get; set; }
    public List<CertificateSummary> ServerChain { get; } = [];
    public bool? ServerCertificateValid { get; set; }
    public string? ServerCertificateProblem { get; set; }
    public bool? ClientCertificateRequested { get; set; }
    public List<string> AcceptableIssuers { get; } = [];
    public string? ClientCertificatePresented { get; set; }
    public bool? ClientCertificateAccepted { get; set; }
    public string? ClientCertificateEvidence { get; set; }

    /// <summary>The status the server answered the probe's <c>GET /</c> with, over the connection that presented our certificate.</summary>
    public int? HttpStatus { get; set; }
}

public sealed record CertificateSummary(string Subject, string Issuer, DateTimeOffset NotBefore, DateTimeOffset NotAfter);
