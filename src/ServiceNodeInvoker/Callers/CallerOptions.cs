using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Callers;

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
    /// <summary>How callers prove who they are (default: keys only).</summary>
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

    /// <summary>
    /// Standalone host only: the operator states that a front end which sets X-ARR-ClientCert itself
    /// (and strips it from callers) sits in front of this host. Without it, TrustForwardedCertificate is refused there.
    /// </summary>
    public bool BehindCertificateForwardingFrontEnd { get; set; }

    /// <summary>Caller name → the profiles it may use. A caller's own list replaces the default grant (profiles' AllowedCallers).</summary>
    public Dictionary<string, List<string>> Grants { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One caller certificate: a SHA-256 thumbprint (hex) or an exact subject, or both.</summary>
public sealed class CallerCertificateOptions
{
    /// <summary>The certificate's SHA-256 thumbprint in hex.</summary>
    public string? Thumbprint { get; set; }

    /// <summary>The certificate's exact subject, such as <c>CN=bot-client</c>.</summary>
    public string? Subject { get; set; }
}
