using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Profiles;

/// <summary>One TLS profile: <c>Invoker:Profiles:&lt;name&gt;</c>.</summary>
public sealed class ProfileOptions
{
    /// <summary>Where profiles live in configuration.</summary>
    public const string SectionPath = "Invoker:Profiles";

    /// <summary><c>host:port</c> entries this profile owns (port 443 when omitted).</summary>
    public List<string> Hosts { get; set; } = [];

    /// <summary>Client certificate presented to the backend; none means plain server-verified TLS.</summary>
    public CertificateSourceOptions? ClientCertificate { get; set; }

    /// <summary>Roots the backend's certificate must chain to, instead of the system's trust store.</summary>
    public CertificateSourceOptions? TrustedCa { get; set; }

    /// <summary>SHA-256 pins (base64 or hex) of the server's public key (SPKI) or certificate.</summary>
    public List<string> ServerCertificatePins { get; set; } = [];

    /// <summary>Seconds ("30") or a TimeSpan ("00:00:30"). Default 30 s, at most 230 s.</summary>
    public string? Timeout { get; set; }

    /// <summary>Largest backend response body accepted, in bytes (default 10 MiB).</summary>
    [Setting(Unit = "bytes", Min = 1, Max = 1L << 40)]
    public long? MaxResponseBytes { get; set; }

    /// <summary>Caller identities that may use this profile (empty: any authenticated caller).</summary>
    public List<string> AllowedCallers { get; set; } = [];

    /// <summary>
    /// Forward mode's base (<c>https://payments.contoso.com:8443/v1</c>): <c>/api/forward/&lt;profile&gt;/rest</c> calls
    /// BaseUrl + <c>/rest</c> + the query. Its host:port must be one of <see cref="Hosts"/>. Unset: no forward mode.
    /// </summary>
    public string? BaseUrl { get; set; }

    /// <summary>Front-end headers about the caller (X-Forwarded-For, …) that forward mode passes on; by default none.</summary>
    public List<string> ForwardCallerHeaders { get; set; } = [];

    /// <summary>Allow targets resolving to private (RFC 1918 / ULA) addresses.</summary>
    public bool AllowPrivateNetwork { get; set; }

    /// <summary>
    /// Accept a backend chain with legacy crypto (RSA/DSA keys under 2048 bits, EC under 256, SHA-1 or MD5
    /// signatures), which is refused by default. For a partner stuck on an old certificate; health and
    /// the probe show it as a warning on the profile.
    /// </summary>
    public bool AllowLegacyServerCrypto { get; set; }

    /// <summary>
    /// An OAuth 2.0 token the backend wants as well as the certificate (client credentials over mutual TLS, RFC 8705):
    /// the invoker gets it, caches it per certificate and sends it as <c>Authorization: Bearer</c>. Unset: no token.
    /// </summary>
    public TokenOptions? Token { get; set; }
}
