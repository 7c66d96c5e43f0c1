using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Profiles;

/// <summary>The <c>Invoker</c> configuration section.</summary>
public sealed class InvokerOptions
{
    public const string SectionName = "Invoker";

    /// <summary>TLS profiles by name.</summary>
    public Dictionary<string, ProfileOptions> Profiles { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Allow targets on loopback addresses. Off by default: it exists for tests and the demo.</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Largest invocation request body accepted, in bytes (default 8 MiB: a 6 MiB binary body in base64).</summary>
    public int MaxRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Longest target URL accepted, in characters.</summary>
    public int MaxUrlLength { get; set; } = RequestLimits.Default.MaxUrlLength;

    /// <summary>Most header values a request may ask to send.</summary>
    public int MaxHeaderCount { get; set; } = RequestLimits.Default.MaxHeaderCount;

    /// <summary>Largest total size of the headers a request may ask to send (names and values).</summary>
    public int MaxHeaderBytes { get; set; } = RequestLimits.Default.MaxHeaderBytes;

    public RequestLimits Limits => new(MaxUrlLength, MaxHeaderCount, MaxHeaderBytes);

    /// <summary>How often certificates are re-read from their source: seconds or a time span (default 1 hour).</summary>
    public string? CertificateRefreshInterval { get; set; }

    /// <summary>User-assigned managed identity's client id (else AZURE_CLIENT_ID).</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Which Azure credential to use: Auto (default: managed identity in Azure, else DefaultAzureCredential), ManagedIdentity, AzureCli, Default.</summary>
    public string? Credential { get; set; }

    /// <summary>Health turns degraded when a certificate expires within this many days.</summary>
    public int ExpiryWarningDays { get; set; } = 30;

    /// <summary>Who may call the standalone host (the Functions host checks its own keys).</summary>
    public CallerOptions Callers { get; set; } = new();
}

/// <summary>How callers prove who they are.</summary>
public enum CallerMode
{
    /// <summary>API keys (standalone) or function keys (Azure): the default.</summary>
    KeyOnly,

    /// <summary>A valid client certificate is required; keys alone are refused for invocations.</summary>
    CertificateRequired,

    /// <summary>A valid client certificate or a key.</summary>
    KeyOrCertificate,
}

/// <summary>The <c>Invoker:Callers</c> section.</summary>
public sealed class CallerOptions
{
    public CallerMode Mode { get; set; } = CallerMode.KeyOnly;

    /// <summary>Caller name → SHA-256 (hex) of its API key. Keys themselves are never stored.</summary>
    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Standalone host: admin name → SHA-256 (hex) of an admin key, for the probe. (Azure: the Functions admin level.)</summary>
    public Dictionary<string, string> AdminKeys { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Caller name → the certificate that identifies it (by SHA-256 thumbprint or exact subject).</summary>
    public Dictionary<string, CallerCertificateOptions> Certificates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Root(s) caller certificates must chain to. Required unless Mode is KeyOnly.</summary>
    public CertificateSourceOptions? CertificateAuthority { get; set; }

    /// <summary>
    /// Trust the X-ARR-ClientCert header from Azure's front end. Only when the site itself is set to
    /// accept client certificates (clientCertEnabled): otherwise anyone could send the header.
    /// </summary>
    public bool TrustForwardedCertificate { get; set; }

    /// <summary>Caller name → the profiles it may use. A caller's own list replaces the default grant (profiles' AllowedCallers).</summary>
    public Dictionary<string, List<string>> Grants { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One caller certificate: a SHA-256 thumbprint (hex) or an exact subject, or both.</summary>
public sealed class CallerCertificateOptions
{
    public string? Thumbprint { get; set; }
    public string? Subject { get; set; }
}

/// <summary>One TLS profile: <c>Invoker:Profiles:&lt;name&gt;</c>.</summary>
public sealed class ProfileOptions
{
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
    public long? MaxResponseBytes { get; set; }

    /// <summary>Caller identities that may use this profile (empty: any authenticated caller).</summary>
    public List<string> AllowedCallers { get; set; } = [];

    /// <summary>Allow targets resolving to private (RFC 1918 / ULA) addresses.</summary>
    public bool AllowPrivateNetwork { get; set; }
}

public enum CertificateSourceKind
{
    KeyVault,
    File,
    Pem,
}

/// <summary>Where a certificate comes from: <c>KeyVault</c>, <c>File</c> (PFX, or a CA in PEM/DER) or <c>Pem</c>.</summary>
public sealed class CertificateSourceOptions
{
    public CertificateSourceKind? Source { get; set; }

    // KeyVault
    public Uri? VaultUri { get; set; }
    public string? Name { get; set; }
    public string? Version { get; set; }

    // File
    public string? Path { get; set; }
    public string? Password { get; set; }

    // Pem
    public string? CertificatePath { get; set; }
    public string? KeyPath { get; set; }
    public string? ChainPath { get; set; }
}
