using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// Which caller may use which profile. A caller with its own grant list (Invoker:Callers:Grants:&lt;caller&gt;)
/// may use exactly those profiles; otherwise the default grant applies: a profile's AllowedCallers
/// (empty or "*": every authenticated caller). A profile that lists callers admits only them.
/// </summary>
internal sealed class CallerGrants(CallerOptions options)
{
    private readonly Dictionary<string, HashSet<string>> _grants = options.Grants.ToDictionary(
        g => g.Key, g => new HashSet<string>(g.Value, StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);

    public bool Allows(string? caller, TlsProfile profile)
    {
        var profileOpen = profile.AllowedCallers.Count == 0 || profile.AllowedCallers.Contains("*");
        var profileAdmits = profileOpen || (caller is not null && profile.AllowedCallers.Contains(caller));
        if (caller is not null && _grants.TryGetValue(caller, out var own))
        {
            return own.Contains(profile.Name) && profileAdmits;
        }
        return profileAdmits;
    }
}
