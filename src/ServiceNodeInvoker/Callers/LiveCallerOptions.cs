namespace ServiceNodeInvoker.Callers;

/// <summary>
/// The caller settings in force: start-up's, then those of each configuration change applied while the host runs. Keys,
/// admin keys, caller certificates, grants and the forwarded-certificate switches change live; <see cref="CallerOptions.Mode"/>
/// and <see cref="CallerOptions.CertificateAuthority"/> keep their start-up values until a restart (the listener asks
/// for caller certificates, and the caller CA is loaded and refreshed, as start-up set them up).
/// </summary>
internal sealed class LiveCallerOptions(CallerOptions initial)
{
    private readonly CallerOptions _initial = initial;
    private volatile CallerOptions _current = initial;

    /// <summary>The settings requests are checked against now. Read once per check: a later change gives a new instance.</summary>
    public CallerOptions Current => _current;

    /// <summary>The settings of <see cref="Current"/> that only a restart changes, by their names under Invoker:Callers.</summary>
    public static readonly IReadOnlyList<string> RestartOnly = [nameof(CallerOptions.Mode), nameof(CallerOptions.CertificateAuthority)];

    /// <summary>
    /// What is in force while a change waits to be published: only the keys and caller certificates that both
    /// <paramref name="before"/> and <paramref name="next"/> accept (same name, same value), the forwarded certificate
    /// trusted only if both trust it, and <paramref name="before"/>'s grants (those of the catalog still in force).
    /// Every caller it accepts, both configurations accept.
    /// </summary>
    public static CallerOptions Narrowed(CallerOptions before, CallerOptions next) => new()
    {
        Mode = before.Mode,
        CertificateAuthority = before.CertificateAuthority,
        ApiKeys = Both(before.ApiKeys, next.ApiKeys, (a, b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase)),
        AdminKeys = Both(before.AdminKeys, next.AdminKeys, (a, b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase)),
        Certificates = Both(before.Certificates, next.Certificates, (a, b) => a.Thumbprint == b.Thumbprint && a.Subject == b.Subject),
        TrustForwardedCertificate = before.TrustForwardedCertificate && next.TrustForwardedCertificate,
        BehindCertificateForwardingFrontEnd = before.BehindCertificateForwardingFrontEnd && next.BehindCertificateForwardingFrontEnd,
        Grants = before.Grants,
    };

    private static Dictionary<string, T> Both<T>(Dictionary<string, T> before, Dictionary<string, T> next, Func<T, T, bool> same) =>
        before.Where(kv => next.TryGetValue(kv.Key, out var other) && same(kv.Value, other))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>Puts validated settings in force (keeping those only a restart changes); returns what is now in force.</summary>
    public CallerOptions Replace(CallerOptions next)
    {
        var effective = new CallerOptions
        {
            Mode = _initial.Mode,
            CertificateAuthority = _initial.CertificateAuthority,
            ApiKeys = next.ApiKeys,
            AdminKeys = next.AdminKeys,
            Certificates = next.Certificates,
            TrustForwardedCertificate = next.TrustForwardedCertificate,
            BehindCertificateForwardingFrontEnd = next.BehindCertificateForwardingFrontEnd,
            Grants = next.Grants,
        };
        _current = effective;
        return effective;
    }
}
