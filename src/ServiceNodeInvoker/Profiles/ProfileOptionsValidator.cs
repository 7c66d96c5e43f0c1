using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Settings;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// The meaning of one profile's settings: a valid name, owned hosts (each host:port owned by exactly one
/// profile), forward mode's BaseUrl, header names, timeout, pins, complete certificate sources and known
/// callers. Every problem names its full setting path.
/// </summary>
internal partial class ProfileOptionsValidator
{
    /// <summary>
    /// A token endpoint is the invoker's own destination, never a caller's: its host:port may be in no profile's Hosts,
    /// or a caller could POST a token request to it (through invoke or forward, however the path is spelt) and get a
    /// token authenticated by our certificate with scopes of its choosing. Several profiles may share one.
    /// </summary>
    /// <param name="owners">host:port → the profile that owns it, from <see cref="Check"/> over every profile.</param>
    public static void CheckTokenEndpoints(IReadOnlyDictionary<string, ProfileOptions> profiles, IReadOnlyDictionary<HostKey, string> owners, List<string> problems)
    {
        foreach (var (name, o) in profiles.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (TokenOptions.IsUnset(o.Token) || !Uri.TryCreate(o.Token!.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme != Uri.UriSchemeHttps
                || endpoint.IdnHost.Length == 0)
            {
                continue; // an unusable endpoint is named by the token source's own check
            }
            var key = HostKey.FromUri(endpoint);
            foreach (var alias in LoopbackAliases(key))
            {
                if (!owners.TryGetValue(alias, out var owner))
                {
                    continue;
                }
                problems.Add($"{ProfileOptions.SectionPath}:{name}:Token:Endpoint: its host:port {key}{(alias == key ? "" : $" (as {alias}: the same loopback server)")} is listed in the Hosts of profile '{owner}', " +
                    $"so callers could send their own token requests to it under our certificate. Remove {alias} from {ProfileOptions.SectionPath}:{owner}:Hosts: " +
                    "a token endpoint needs no Hosts entry (the invoker reaches it itself, with the profile's certificate, trust and address policy). " +
                    "A partner that serves its token endpoint and its API on one host:port is not supported: ask for its mTLS endpoint alias " +
                    "(RFC 8705 §5) or another host or port for the token endpoint.");
            }
        }
    }

    /// <summary>
    /// The host:port and, for a loopback one, its other spellings (localhost, 127.0.0.1, [::1]): the names this machine
    /// knows to be one server without asking DNS. Other aliases (a CNAME, the server's IP) cannot be told at start-up.
    /// </summary>
    public static IEnumerable<HostKey> LoopbackAliases(HostKey key)
    {
        string[] loopback = ["localhost", "127.0.0.1", "::1"];
        return loopback.Contains(key.Host, StringComparer.OrdinalIgnoreCase)
            ? loopback.Select(h => new HostKey(h, key.Port))
            : [key];
    }

    /// <param name="owners">host:port → the profile that listed it first, shared across profiles.</param>
    /// <param name="callers">The names callers go by (API keys and certificates), for AllowedCallers.</param>
    public static void Check(string name, ProfileOptions o, Dictionary<HostKey, string> owners, IReadOnlySet<string> callers, List<string> problems)
    {
        var prefix = $"{ProfileOptions.SectionPath}:{name}";
        if (!ProfileName().IsMatch(name))
        {
            problems.Add($"{prefix}: the profile name '{ConfigurationSchema.Shorten(name)}' is invalid: use letters, digits, '-' and '_' (at most 64).");
        }
        var hosts = o.Hosts.Where(h => !string.IsNullOrWhiteSpace(h)).ToList();
        if (hosts.Count == 0)
        {
            problems.Add($"{prefix}:Hosts: is empty: list the host or host:port entries the profile owns ({prefix}:Hosts:0).");
        }
        for (var i = 0; i < o.Hosts.Count; i++)
        {
            var entry = o.Hosts[i];
            if (string.IsNullOrWhiteSpace(entry))
            {
                continue;
            }
            if (entry.Contains('*'))
            {
                problems.Add($"{prefix}:Hosts:{i}: '{ConfigurationSchema.Shorten(entry)}': wildcards are not supported; list each host (and port) the profile owns.");
                continue;
            }
            if (!HostKey.TryParse(entry, out var key))
            {
                problems.Add($"{prefix}:Hosts:{i}: '{ConfigurationSchema.Shorten(entry)}' is not a host or host:port (no scheme, path or user).");
                continue;
            }
            if (owners.TryGetValue(key, out var owner) && !owner.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"{prefix}:Hosts:{i}: profiles '{owner}' and '{name}' both list {key}: exactly one profile may own a host:port.");
            }
            owners.TryAdd(key, name);
        }
        CheckBaseUrl(prefix, o, problems);
        for (var i = 0; i < o.ForwardCallerHeaders.Count; i++)
        {
            if (!HeaderPolicy.IsValidName(o.ForwardCallerHeaders[i]))
            {
                problems.Add($"{prefix}:ForwardCallerHeaders:{i}: '{ConfigurationSchema.Shorten(o.ForwardCallerHeaders[i])}' is not a header name.");
            }
        }
        if (!string.IsNullOrWhiteSpace(o.Timeout))
        {
            if (!SettingParsers.TryParseDuration(o.Timeout, out var timeout))
            {
                problems.Add($"{prefix}:Timeout: '{ConfigurationSchema.Shorten(o.Timeout)}' is neither seconds (\"30\") nor a time span (\"00:00:30\").");
            }
            else if (timeout <= TimeSpan.Zero || timeout.TotalSeconds > TlsProfile.MaxTimeoutSeconds)
            {
                problems.Add($"{prefix}:Timeout: must be more than 0 and at most {TlsProfile.MaxTimeoutSeconds} seconds (Azure's load balancer limit).");
            }
        }
        for (var i = 0; i < o.ServerCertificatePins.Count; i++)
        {
            if (!SettingParsers.TryParsePin(o.ServerCertificatePins[i], out _))
            {
                problems.Add($"{prefix}:ServerCertificatePins:{i}: is not a SHA-256 digest in base64 (\"sha256/…\") or hex.");
            }
        }
        CertificateSourceRules.Check(o.ClientCertificate, $"{prefix}:ClientCertificate", CertificateRole.Client, problems);
        CertificateSourceRules.Check(o.TrustedCa, $"{prefix}:TrustedCa", CertificateRole.TrustedCa, problems);
        TokenRules.Check(prefix, o, problems);
        for (var i = 0; i < o.AllowedCallers.Count; i++)
        {
            var caller = o.AllowedCallers[i];
            if (caller != "*" && !callers.Contains(caller))
            {
                problems.Add($"{prefix}:AllowedCallers:{i}: no caller is named '{ConfigurationSchema.Shorten(caller)}' " +
                             $"(callers are the names under Invoker:Callers:ApiKeys and Invoker:Callers:Certificates{SettingSuggestions.Suggest(caller, callers)}).");
            }
        }
    }

    /// <summary>Forward mode's base: absolute https, no query, fragment or user, on a host:port the profile owns.</summary>
    private static void CheckBaseUrl(string prefix, ProfileOptions o, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(o.BaseUrl))
        {
            return;
        }
        var setting = $"{prefix}:BaseUrl";
        if (!Uri.TryCreate(o.BaseUrl, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps || url.IdnHost.Length == 0)
        {
            problems.Add($"{setting}: {ConfigurationSchema.HttpsUrlProblem(o.BaseUrl)}; it must be an absolute https URL (https://host[:port][/path]).");
            return;
        }
        if (url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0 || o.BaseUrl.Contains('\\'))
        {
            problems.Add($"{setting}: must have no query, fragment, user or backslash (the caller's path and query are added to it).");
            return;
        }
        var key = HostKey.FromUri(url);
        var owned = o.Hosts.Any(h => HostKey.TryParse(h, out var host) && host.Equals(key));
        if (!owned)
        {
            problems.Add($"{setting}: its host:port {key} is not one of the profile's Hosts: add it to {prefix}:Hosts.");
        }
    }
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ProfileName();
}
