
namespace ServiceNodeInvoker.Profiles;

/// <summary>A validated TLS profile: settings only, parsed. Certificates are the certificate store's concern.</summary>
internal sealed class TlsProfile
{
    public const double MaxTimeoutSeconds = 230; // Azure's load balancer cuts idle HTTP responses there.
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    public const long DefaultMaxResponseBytes = 10 * 1024 * 1024;

    public required string Name { get; init; }

    /// <summary>
    /// Increases with every profile built: a configuration change gives a changed profile a new instance with a higher
    /// revision, so what is kept per profile (its connections) is only ever replaced by a newer one.
    /// </summary>
    public long Revision { get; init; }
    public required IReadOnlySet<HostKey> Hosts { get; init; }
    /// <summary>The client certificate's validated source settings (the certificate store builds the source).</summary>
    public CertificateSourceOptions? ClientCertificate { get; init; }

    /// <summary>The trusted CA's validated source settings.</summary>
    public CertificateSourceOptions? TrustedCa { get; init; }
    public IReadOnlyList<byte[]> ServerCertificatePins { get; init; } = [];
    public TimeSpan Timeout { get; init; } = DefaultTimeout;
    public long MaxResponseBytes { get; init; } = DefaultMaxResponseBytes;
    public IReadOnlySet<string> AllowedCallers { get; init; } = new HashSet<string>();
    public bool AllowPrivateNetwork { get; init; }

    /// <summary>Legacy crypto in the backend's chain is accepted (an explicit, warned-about opt-out).</summary>
    public bool AllowLegacyServerCrypto { get; init; }

    /// <summary>The warning health and the probe show for <see cref="AllowLegacyServerCrypto"/>, or null.</summary>
    public string? LegacyCryptoWarning => AllowLegacyServerCrypto
        ? $"AllowLegacyServerCrypto is set: backend certificates with keys under 2048 bits (RSA) or SHA-1/MD5 signatures are accepted for profile '{Name}'. " +
          "Remove it once the partner has a current certificate."
        : null;

    /// <summary>Forward mode's base URL (absolute https, no query), or null when the profile is not forwarded to.</summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>Front-end headers about the caller that forward mode passes on.</summary>
    public IReadOnlySet<string> ForwardCallerHeaders { get; init; } = new HashSet<string>();

    /// <summary>The OAuth token source, when the backend wants a token as well as the certificate.</summary>
    public ProfileToken? Token { get; init; }

    public bool Owns(HostKey key) => Hosts.Contains(key);

    /// <summary>The caller's timeout, capped by the profile's.</summary>
    public TimeSpan EffectiveTimeout(TimeSpan? requested) =>
        requested is { } r && r < Timeout ? r : Timeout;
}
