using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// The caller settings in force: start-up's, then those of each configuration change applied while the host runs. Keys,
/// admin keys, caller certificates, grants and the forwarded-certificate switches change live; <see cref="CallerOptions.Mode"/>
/// and <see cref="CallerOptions.CertificateAuthority"/> keep their start-up values until a restart (the listener asks
/// for caller certificates, and the caller CA is loaded and refreshed, as start-up set them up).
/// </summary>
/// <remarks>
/// While a change waits to go live (the new profiles' certificates load first), what is in force is narrowed
/// (<see cref="Narrow"/>): only callers, and caller→profile uses, that the configuration in force and every configuration
/// read since accept. A revocation so counts from the moment the change is read; an addition from the moment it applies.
/// </remarks>
internal sealed class LiveCallerOptions(CallerOptions initial)
{
    private readonly CallerOptions _initial = initial;
    private volatile InForce _state = new(initial, []);

    /// <summary>
    /// The settings in force, read as one: <paramref name="Current"/> and the configurations read but not yet in force whose
    /// grants must also admit a caller's use of a profile (empty unless a change is waiting to go live).
    /// </summary>
    internal sealed record InForce(CallerOptions Current, IReadOnlyList<PendingCallers> Pending);

    /// <summary>The settings requests are checked against now. Read once per check: a later change gives a new instance.</summary>
    public CallerOptions Current => _state.Current;

    /// <summary>Everything in force now, read as one (the grants check needs both parts of the same moment).</summary>
    public InForce State => _state;

    /// <summary>The settings of <see cref="Current"/> that only a restart changes, by their names under Invoker:Callers.</summary>
    public static readonly IReadOnlyList<string> RestartOnly = [nameof(CallerOptions.Mode), nameof(CallerOptions.CertificateAuthority)];

    /// <summary>
    /// Only the keys, admin keys and caller certificates that both <paramref name="before"/> and <paramref name="next"/>
    /// accept (same name, same value), the forwarded certificate trusted only if both trust it, and <paramref name="before"/>'s
    /// grants (they match the catalog still in force; <see cref="PendingCallers"/> narrows them). Every caller it accepts,
    /// both configurations accept.
    /// </summary>
    public static CallerOptions Narrowed(CallerOptions before, CallerOptions next) => new()
    {
        Mode = before.Mode,
        CertificateAuthority = before.CertificateAuthority,
        ApiKeys = Both(before.ApiKeys, next.ApiKeys, SameHash),
        AdminKeys = Both(before.AdminKeys, next.AdminKeys, SameHash),
        Certificates = Both(before.Certificates, next.Certificates, (a, b) => Thumbprint(a) == Thumbprint(b) && Subject(a) == Subject(b)),
        TrustForwardedCertificate = before.TrustForwardedCertificate && next.TrustForwardedCertificate,
        BehindCertificateForwardingFrontEnd = before.BehindCertificateForwardingFrontEnd && next.BehindCertificateForwardingFrontEnd,
        Grants = before.Grants,
    };

    private static bool SameHash(string a, string b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);

    private static string? Thumbprint(CallerCertificateOptions c) => string.IsNullOrWhiteSpace(c.Thumbprint) ? null : SettingParsers.Sha256Hex(c.Thumbprint);

    private static string? Subject(CallerCertificateOptions c) => string.IsNullOrWhiteSpace(c.Subject) ? null : c.Subject.Trim();

    private static Dictionary<string, T> Both<T>(Dictionary<string, T> before, Dictionary<string, T> next, Func<T, T, bool> same) =>
        before.Where(kv => next.TryGetValue(kv.Key, out var other) && same(kv.Value, other))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A configuration was read that is not in force yet: from now on only what both it and what is in force accept is
    /// (<see cref="Narrowed"/>, and its grants checked besides). Returns what is now in force.
    /// </summary>
    public CallerOptions Narrow(PendingCallers next)
    {
        var state = _state;
        var narrowed = Effective(Narrowed(state.Current, next.Callers));
        _state = new InForce(narrowed, [.. state.Pending, next]);
        return narrowed;
    }

    /// <summary>Puts validated settings in force (keeping those only a restart changes); returns what is now in force.</summary>
    public CallerOptions Replace(CallerOptions next) => Replace(next, []);

    /// <summary>
    /// Puts <paramref name="next"/> in force, narrowed by the configurations read since that are still to go live
    /// (<paramref name="later"/>, oldest first): a revocation they make is not undone while they wait their turn.
    /// </summary>
    public CallerOptions Replace(CallerOptions next, IReadOnlyList<PendingCallers> later)
    {
        var effective = Effective(next);
        foreach (var pending in later)
        {
            effective = Effective(Narrowed(effective, pending.Callers));
        }
        _state = new InForce(effective, later.ToArray());
        return effective;
    }

    private CallerOptions Effective(CallerOptions next) => new()
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
}

/// <summary>
/// A configuration read but not in force yet, as far as who may use which profile goes: its caller settings, and each of
/// its profiles' AllowedCallers by profile name. A profile it does not have admits no one.
/// </summary>
internal sealed record PendingCallers(CallerOptions Callers, IReadOnlyDictionary<string, IReadOnlySet<string>> AllowedCallers)
{
    public static PendingCallers Of(CallerOptions callers, IReadOnlyDictionary<string, ProfileOptions> profiles) =>
        new(callers, profiles.ToDictionary(p => p.Key, p => (IReadOnlySet<string>)new HashSet<string>(p.Value.AllowedCallers, StringComparer.OrdinalIgnoreCase),
            StringComparer.OrdinalIgnoreCase));

    /// <summary>Whether this configuration lets <paramref name="caller"/> use the profile named <paramref name="profile"/> (<see cref="CallerGrants"/>'s rule).</summary>
    public bool Admits(string? caller, string profile)
    {
        if (!AllowedCallers.TryGetValue(profile, out var allowed))
        {
            return false;
        }
        var profileAdmits = allowed.Count == 0 || allowed.Contains("*") || (caller is not null && allowed.Contains(caller));
        if (caller is not null && Callers.Grants.TryGetValue(caller, out var own))
        {
            return own.Contains(profile, StringComparer.OrdinalIgnoreCase) && profileAdmits;
        }
        return profileAdmits;
    }
}
