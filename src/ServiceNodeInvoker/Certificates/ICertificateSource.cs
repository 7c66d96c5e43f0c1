using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>Certificates loaded from a source, with the source's version when it has one, and the vault's view of them (Key Vault).</summary>
internal sealed record LoadedCertificates(X509Certificate2Collection Certificates, string? Version)
{
    public VaultView? Vault { get; init; }
}

/// <summary>What Key Vault says of a certificate's current (or pinned) version, without its key material.</summary>
internal sealed record VaultView(string Version, bool? Enabled, DateTimeOffset? NotBefore, DateTimeOffset? ExpiresOn, string Renewal)
{
    public static VaultView From(Azure.Security.KeyVault.Certificates.CertificateProperties properties, string renewal) =>
        new(properties.Version, properties.Enabled, properties.NotBefore, properties.ExpiresOn, renewal);

    /// <summary>The renewal policy in plain words: whether the vault will renew the certificate by itself.</summary>
    public static string RenewalOf(Azure.Security.KeyVault.Certificates.CertificatePolicy? policy)
    {
        var actions = policy?.LifetimeActions ?? [];
        var when = (Azure.Security.KeyVault.Certificates.LifetimeAction a) =>
            a.DaysBeforeExpiry is { } days ? $"{days} days before expiry" : a.LifetimePercentage is { } percent ? $"at {percent} % of its lifetime" : "before expiry";
        var renew = actions.FirstOrDefault(a => a.Action == Azure.Security.KeyVault.Certificates.CertificatePolicyAction.AutoRenew);
        if (renew is not null)
        {
            return string.Equals(policy!.IssuerName, "Unknown", StringComparison.OrdinalIgnoreCase)
                ? $"auto-renew is set ({when(renew)}) but the issuer is Unknown (an imported certificate): the vault cannot renew it; rotate it by hand"
                : $"auto-renews {when(renew)} with issuer {policy!.IssuerName}";
        }
        var email = actions.FirstOrDefault(a => a.Action == Azure.Security.KeyVault.Certificates.CertificatePolicyAction.EmailContacts);
        return email is not null ? $"manual: the vault emails its contacts {when(email)}" : "manual: no lifetime action";
    }

    /// <summary>Why the vault's view alone makes the certificate unusable or about to be (null: fine).</summary>
    public string? Problem(DateTimeOffset now) =>
        Enabled == false ? $"version {Version} is disabled in Key Vault"
        : NotBefore > now ? $"version {Version} is not valid before {NotBefore:yyyy-MM-dd'T'HH:mm:ss'Z'} in Key Vault"
        : ExpiresOn <= now ? $"version {Version} expired in Key Vault on {ExpiresOn:yyyy-MM-dd'T'HH:mm:ss'Z'}"
        : null;
}

/// <summary>A place certificates are loaded from (files, Key Vault). Key Vault keeps the last material it read, to skip re-reading an unchanged version.</summary>
internal interface ICertificateSource
{
    /// <summary>Where the certificate comes from, safe to show to callers (a file's name, never its folder; never a password).</summary>
    string Description { get; }

    /// <summary>The full location (a file's absolute path, the vault URI), for the operator's log only.</summary>
    string Location { get; }

    Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken);
}

/// <summary>How a failed load may heal: never by waiting (the default), within seconds, or after the vault stops throttling.</summary>
internal enum LoadFailureKind
{
    /// <summary>401/403/404, unusable content, a missing file: answered at once, not retried by requests.</summary>
    Definitive,

    /// <summary>5xx, no answer (connection, timeout): worth retrying within the callers' deadlines.</summary>
    Transient,

    /// <summary>429 from Key Vault: worth retrying after its Retry-After; reported as the vault throttling.</summary>
    Throttled,
}

/// <summary>
/// A certificate source failed in a way worth telling the operator in plain words (never secret
/// material). <see cref="RetryAfter"/> carries a source's request to wait, such as Key Vault's 429;
/// <see cref="Kind"/> whether waiting may heal it.
/// </summary>
internal sealed class CertificateLoadException(string message, Exception? inner = null, TimeSpan? retryAfter = null, LoadFailureKind kind = LoadFailureKind.Definitive)
    : Exception(message, inner)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public LoadFailureKind Kind { get; } = kind;

    /// <summary>Whether trying again in a few seconds may succeed.</summary>
    public bool Retryable => Kind != LoadFailureKind.Definitive;

    /// <summary>The same failure in other words (which part, where from), keeping its kind and wait.</summary>
    public CertificateLoadException Reworded(string message) => new(message, this, RetryAfter, Kind);
}
