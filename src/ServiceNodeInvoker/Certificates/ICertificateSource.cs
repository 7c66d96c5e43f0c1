using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Certificates;

/// <summary>What a configured certificate is for: a client certificate needs its private key; a CA does not.</summary>
public enum CertificateRole
{
    Client,
    TrustedCa,
}

/// <summary>Certificates loaded from a source, with the source's version when it has one.</summary>
public sealed record LoadedCertificates(X509Certificate2Collection Certificates, string? Version);

/// <summary>A place certificates are loaded from (files, Key Vault). Implementations hold no cache.</summary>
public interface ICertificateSource
{
    /// <summary>Where the certificate comes from, safe to show to callers (a file's name, never its folder; never a password).</summary>
    string Description { get; }

    /// <summary>The full location (a file's absolute path, the vault URI), for the operator's log only.</summary>
    string Location { get; }

    Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A certificate source failed in a way worth telling the operator in plain words (never secret
/// material). <see cref="RetryAfter"/> carries a source's request to wait, such as Key Vault's 429.
/// </summary>
public sealed class CertificateLoadException(string message, Exception? inner = null, TimeSpan? retryAfter = null) : Exception(message, inner)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
