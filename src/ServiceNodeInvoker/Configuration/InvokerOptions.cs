using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// The <c>Invoker</c> configuration section: the app's one options model. It is checked once, before
/// the host serves anything (<see cref="ConfigurationSchema"/> for names and conversions,
/// <see cref="InvokerOptionsValidator"/> for ranges and references); everything downstream trusts it.
/// </summary>
public sealed class InvokerOptions
{
    /// <summary>The configuration section: <c>Invoker</c>.</summary>
    public const string SectionName = "Invoker";

    /// <summary>TLS profiles by name.</summary>
    public Dictionary<string, ProfileOptions> Profiles { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Allow targets on loopback addresses. Off by default: it exists for tests and the demo.</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Largest invocation request body accepted, in bytes (default 8 MiB: a 6 MiB binary body in base64).</summary>
    [Setting(Unit = "bytes", Min = 1024, Max = 256L * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = RequestLimits.Default.MaxRequestBytes;

    /// <summary>Longest target URL accepted, in characters.</summary>
    [Setting(Unit = "characters", Min = 64, Max = 65536)]
    public int MaxUrlLength { get; set; } = RequestLimits.Default.MaxUrlLength;

    /// <summary>Most header values a request may ask to send.</summary>
    [Setting(Unit = "headers", Min = 1, Max = 1000)]
    public int MaxHeaderCount { get; set; } = RequestLimits.Default.MaxHeaderCount;

    /// <summary>Largest total size of the headers a request may ask to send (names and values).</summary>
    [Setting(Unit = "bytes", Min = 256, Max = 1024 * 1024)]
    public int MaxHeaderBytes { get; set; } = RequestLimits.Default.MaxHeaderBytes;

    internal RequestLimits Limits => new(MaxUrlLength, MaxHeaderCount, MaxHeaderBytes, MaxRequestBytes);

    /// <summary>How often certificates are re-read from their source: seconds or a time span (default 1 hour).</summary>
    public string? CertificateRefreshInterval { get; set; }

    /// <summary>User-assigned managed identity's client id (else AZURE_CLIENT_ID).</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Which Azure credential to use.</summary>
    public CredentialKind Credential { get; set; } = CredentialKind.Auto;

    /// <summary>
    /// All response bytes the instance may hold in memory at once for envelopes (bodies and the envelopes
    /// built from them). Default 512 MiB: fits a 2 GiB Flex instance beside the runtime.
    /// </summary>
    [Setting(Unit = "bytes", Min = 16L * 1024 * 1024, Max = 64L * 1024 * 1024 * 1024)]
    public long MaxBufferedResponseBytes { get; set; } = ResponseBufferBudget.DefaultCapacity;

    /// <summary>Health turns degraded when a certificate expires within this many days.</summary>
    [Setting(Unit = "days", Min = 0, Max = 365)]
    public int ExpiryWarningDays { get; set; } = 30;

    /// <summary>Who may call, and which profiles they may use.</summary>
    public CallerOptions Callers { get; set; } = new();
}
