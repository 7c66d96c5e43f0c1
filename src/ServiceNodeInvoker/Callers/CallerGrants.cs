using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// Which caller may use which profile. A caller with its own grant list (Invoker:Callers:Grants:&lt;caller&gt;)
/// may use exactly those profiles; otherwise the default grant applies: a profile's AllowedCallers
/// (empty or "*": every authenticated caller). A profile that lists callers admits only them.
/// </summary>
/// <remarks>
/// The grants in force now (<see cref="LiveCallerOptions"/>): a configuration change counts from the next request. While a
/// change waits to go live, a use must also be one the configuration(s) waiting admit (<see cref="PendingCallers"/>).
/// </remarks>
internal sealed class CallerGrants
{
    private readonly LiveCallerOptions _options;
    private volatile Parsed? _parsed;

    private sealed record Parsed(CallerOptions Of, Dictionary<string, HashSet<string>> Grants);

    internal CallerGrants(CallerOptions options) : this(new LiveCallerOptions(options))
    {
    }

    public CallerGrants(LiveCallerOptions options)
    {
        _options = options;
    }

    private Dictionary<string, HashSet<string>> GrantsOf(CallerOptions current)
    {
        var parsed = _parsed;
        if (parsed is null || !ReferenceEquals(parsed.Of, current))
        {
            parsed = new Parsed(current, current.Grants.ToDictionary(
                g => g.Key, g => new HashSet<string>(g.Value, StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase));
            _parsed = parsed;
        }
        return parsed.Grants;
    }

    public bool Allows(string? caller, TlsProfile profile)
    {
        var state = _options.State;
        return Admits(GrantsOf(state.Current), caller, profile) && state.Pending.All(p => p.Admits(caller, profile.Name));
    }

    private static bool Admits(Dictionary<string, HashSet<string>> grants, string? caller, TlsProfile profile)
    {
        var profileOpen = profile.AllowedCallers.Count == 0 || profile.AllowedCallers.Contains("*");
        var profileAdmits = profileOpen || (caller is not null && profile.AllowedCallers.Contains(caller));
        if (caller is not null && grants.TryGetValue(caller, out var own))
        {
            return own.Contains(profile.Name) && profileAdmits;
        }
        return profileAdmits;
    }
}
