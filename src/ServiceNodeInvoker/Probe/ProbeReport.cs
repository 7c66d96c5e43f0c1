namespace ServiceNodeInvoker.Probe;

/// <summary>What the probe found for one profile.</summary>
/// <param name="Vault">Key Vault's own view of the client certificate (version, enabled, validity, renewal), when it comes from a vault.</param>
/// <param name="Warnings">What may make calls fail though the probe passed: our certificate's chain or purpose, legacy crypto allowed.</param>
/// <param name="Token">The token request the probe made, when the profile has a token source.</param>
internal sealed record ProfileProbeReport(string Profile, bool Ok, IReadOnlyList<HostProbeReport> Hosts, Certificates.VaultView? Vault = null,
    IReadOnlyList<string>? Warnings = null, TokenProbeReport? Token = null);

/// <summary>The probe's token request: whether a token came, in plain words, and what the endpoint said when none did.</summary>
internal sealed class TokenProbeReport
{
    public required string Endpoint { get; init; }
    public required string ClientAuthentication { get; init; }
    public bool Ok { get; set; }
    public string Summary { get; set; } = "";
    public double? Milliseconds { get; set; }

    /// <summary>The failure's stable cause (token-endpoint-error, token-response-invalid, a connection cause).</summary>
    public string? Cause { get; set; }

    /// <summary>The endpoint's RFC 6749 error code, when it sent one.</summary>
    public string? TokenError { get; set; }
    public long? ExpiresInSeconds { get; set; }
    public IReadOnlyList<string>? GrantedScopes { get; set; }

    /// <summary>bound, bound-to-another, not-bound, opaque: what the token says about its certificate binding.</summary>
    public string? Binding { get; set; }
}

/// <summary>What the probe found for one host:port, step by step, with a plain-words summary.</summary>
internal sealed class HostProbeReport
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    public bool Ok { get; set; }
    public string Summary { get; set; } = "";
    public StepReport Dns { get; } = new();
    public StepReport Connect { get; } = new();
    public TlsReport Tls { get; } = new();

    /// <summary>What passed only because of a profile's opt-out (AllowLegacyServerCrypto).</summary>
    public List<string> Warnings { get; } = [];
}

internal class StepReport
{
    public double? Milliseconds { get; set; }
    public bool? Ok { get; set; }
    public string? Error { get; set; }
    public List<string> Addresses { get; } = [];
}

/// <summary>The TLS step. <c>Ok</c> means the handshake completed and the server's certificate passed our checks.</summary>
internal sealed class TlsReport : StepReport
{
    /// <summary>The handshake itself completed (the first pass completes it even with a server certificate we reject).</summary>
    public bool? HandshakeCompleted { get; set; }

    public string? Protocol { get; set; }
    public string? CipherSuite { get; set; }
    public List<CertificateSummary> ServerChain { get; } = [];

    /// <summary>The server's chain as certificates, for checks after the handshake (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public List<System.Security.Cryptography.X509Certificates.X509Certificate2> ServerChainCertificates { get; } = [];

    /// <summary>The failure classifier's cause, when the handshake or the exchange after it failed.</summary>
    public string? Cause { get; set; }
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

/// <summary>One certificate of the server's chain, with what fixes a name or pin problem: its names, thumbprint and SPKI pin (as ServerCertificatePins takes it).</summary>
internal sealed record CertificateSummary(string Subject, string Issuer, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public IReadOnlyList<string> SubjectAlternativeNames { get; init; } = [];
    public string? ThumbprintSha256 { get; init; }
    public string? SpkiPin { get; init; }
    public string? Key { get; init; }
    public string? SignatureAlgorithm { get; init; }
}
