using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// All profiles and the host:port → profile ownership map that picks the profile for a URL. It holds one immutable
/// snapshot at a time: start-up's, then each validated configuration change's (<see cref="Prepare"/>, <see cref="Publish"/>).
/// A request reads the snapshot current when it resolves its profile and keeps that <see cref="TlsProfile"/> to its end;
/// a profile whose settings did not change keeps its instance across changes, and with it (everything above keys on
/// the instance) its certificates, tokens and connections.
/// </summary>
internal sealed class ProfileCatalog
{
    private volatile Snapshot _current;

    /// <param name="profiles">The Invoker:Profiles settings, validated (<see cref="ProfileOptionsValidator"/>): nothing here can fail.</param>
    public ProfileCatalog(IReadOnlyDictionary<string, ProfileOptions> profiles)
    {
        _current = Snapshot.Build(profiles, null).After;
    }

    public IReadOnlyCollection<TlsProfile> Profiles => _current.ByName.Values;

    /// <summary>The profile of that name (case-insensitive), or null.</summary>
    public TlsProfile? Find(string name) => _current.ByName.GetValueOrDefault(name);

    /// <summary>The profile a request names (case-insensitive); 404 unknown-profile when there is none.</summary>
    public TlsProfile Named(string name) =>
        _current.ByName.GetValueOrDefault(name) ?? throw new InvokerException(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile");

    /// <summary>
    /// What a new (validated) set of profiles would change, built but not yet in force: a profile whose settings are
    /// the same keeps its instance; a new or changed one gets a new instance; the others are removed.
    /// </summary>
    public ProfileChange Prepare(IReadOnlyDictionary<string, ProfileOptions> profiles) => Snapshot.Build(profiles, _current);

    /// <summary>Puts a prepared change in force: requests that resolve a profile from now on see it.</summary>
    /// <exception cref="InvalidOperationException">Another change was published since this one was prepared.</exception>
    public void Publish(ProfileChange change)
    {
        if (Interlocked.CompareExchange(ref _current, change.After, change.Before) != change.Before)
        {
            throw new InvalidOperationException("the catalog changed since this change was prepared");
        }
    }

    /// <summary>Picks the profile for a request: by name if given (and it must own the URL), else by the URL's host:port.</summary>
    public TlsProfile Resolve(string? name, Uri url)
    {
        var target = CheckTarget(url);
        var current = _current;
        if (current.TokenEndpoints.Count > 0 && current.TokenEndpoints.Contains(target)) // no hash of the target when no profile has a token source
        {
            // No profile owns it (start-up refuses that), but the caller is told why rather than "no profile owns it" —
            // not which profiles use it: a caller may have no grant on them.
            throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"{target} is a profile's token endpoint: the invoker asks it for tokens itself, with the profile's certificate; callers may not call it.", "url");
        }
        if (name is not null)
        {
            var named = current.ByName.GetValueOrDefault(name)
                ?? throw new InvokerException(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile");
            if (!named.Owns(target))
            {
                throw new InvokerException(ErrorCodes.TargetNotAllowed,
                    $"Profile '{named.Name}' does not own {target}: add it to the profile's Hosts to allow it.", "url");
            }
            return named;
        }
        return current.ByHost.TryGetValue(target, out var owner)
            ? owner
            : throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"No profile owns {target}: only hosts listed in a profile's Hosts are called.{OtherPorts(current, target)}", "url");
    }

    /// <summary>" Profile 'x' owns localhost:8443." when the host is owned on other ports: likely a missing or wrong port in the URL.</summary>
    private static string OtherPorts(Snapshot current, HostKey target)
    {
        var others = current.ByHost.Where(h => string.Equals(h.Key.Host, target.Host, StringComparison.OrdinalIgnoreCase))
            .Select(h => $"profile '{h.Value.Name}' owns {h.Key}").Order(StringComparer.Ordinal).ToList();
        return others.Count == 0 ? "" : $" The host is owned on another port: {string.Join("; ", others)}. Check the port in the URL.";
    }

    private static HostKey CheckTarget(Uri url)
    {
        if (!string.Equals(url.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"Only https URLs are called (the URL's scheme is '{url.Scheme}').", "url");
        }
        if (HasBackslashOrWhitespace(url.OriginalString))
        {
            // Parsers disagree on these (WHATWG treats \ as /, others do not): refuse rather than guess.
            throw new InvokerException(ErrorCodes.TargetNotAllowed, "URLs with backslashes or whitespace are not called.", "url");
        }
        if (url.UserInfo.Length > 0)
        {
            throw new InvokerException(ErrorCodes.TargetNotAllowed, "URLs with user information (user@host) are not called.", "url");
        }
        if (url.Fragment.Length > 0)
        {
            throw new InvokerException(ErrorCodes.TargetNotAllowed, "URLs with a fragment (#…) are not called.", "url");
        }
        if (url.IdnHost.Length == 0)
        {
            throw new InvokerException(ErrorCodes.TargetNotAllowed, "The URL has no host.", "url");
        }
        return HostKey.FromUri(url);
    }

    private static bool HasBackslashOrWhitespace(string text)
    {
        foreach (var c in text)
        {
            if (c == '\\' || char.IsWhiteSpace(c))
            {
                return true;
            }
        }
        return false;
    }

    private static long s_revisions;

    internal static TlsProfile Build(string name, ProfileOptions o) => new()
    {
        Name = name,
        Revision = Interlocked.Increment(ref s_revisions),
        Hosts = o.Hosts.Where(h => !string.IsNullOrWhiteSpace(h))
            .Select(h => HostKey.TryParse(h, out var key) ? key : throw new InvalidOperationException("configuration was not validated"))
            .ToHashSet(),
        ClientCertificate = CertificateSourceOptions.IsUnset(o.ClientCertificate) ? null : o.ClientCertificate,
        TrustedCa = CertificateSourceOptions.IsUnset(o.TrustedCa) ? null : o.TrustedCa,
        ServerCertificatePins = o.ServerCertificatePins.Select(SettingParsers.Pin).ToArray(),
        Timeout = SettingParsers.Duration(o.Timeout, TlsProfile.DefaultTimeout),
        MaxResponseBytes = o.MaxResponseBytes ?? TlsProfile.DefaultMaxResponseBytes,
        AllowedCallers = new HashSet<string>(o.AllowedCallers, StringComparer.OrdinalIgnoreCase),
        AllowPrivateNetwork = o.AllowPrivateNetwork,
        AllowLegacyServerCrypto = o.AllowLegacyServerCrypto,
        BaseUrl = string.IsNullOrWhiteSpace(o.BaseUrl) ? null : new Uri(o.BaseUrl, UriKind.Absolute),
        ForwardCallerHeaders = new HashSet<string>(o.ForwardCallerHeaders.Where(h => !string.IsNullOrWhiteSpace(h)), StringComparer.OrdinalIgnoreCase),
        Token = ProfileToken.From(o.Token),
    };

    /// <summary>One catalog state: every profile by name and by host:port, and the token endpoints no caller may target.</summary>
    internal sealed class Snapshot
    {
        public Dictionary<string, TlsProfile> ByName { get; } = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<HostKey, TlsProfile> ByHost { get; } = [];
        public HashSet<HostKey> TokenEndpoints { get; } = [];

        /// <summary>Each profile's settings as bound, serialized: equal text, unchanged profile.</summary>
        public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);

        /// <summary>The snapshot <paramref name="profiles"/> give, reusing each profile of <paramref name="before"/> whose settings are equal.</summary>
        public static ProfileChange Build(IReadOnlyDictionary<string, ProfileOptions> profiles, Snapshot? before)
        {
            var after = new Snapshot();
            List<TlsProfile> added = [];
            List<(TlsProfile Old, TlsProfile New)> changed = [];
            foreach (var (name, options) in profiles.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var settings = System.Text.Json.JsonSerializer.Serialize(options);
                var old = before?.ByName.GetValueOrDefault(name);
                TlsProfile profile;
                if (old is not null && old.Name == name && before!.Settings[old.Name] == settings)
                {
                    profile = old;
                }
                else
                {
                    profile = ProfileCatalog.Build(name, options);
                    if (old is null)
                    {
                        added.Add(profile);
                    }
                    else
                    {
                        changed.Add((old, profile));
                    }
                }
                after.Add(profile, settings);
            }
            var removed = before is null ? [] : before.ByName.Values.Where(p => !after.ByName.ContainsKey(p.Name)).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
            return new ProfileChange(before, after, added, changed, removed);
        }

        private void Add(TlsProfile profile, string settings)
        {
            foreach (var host in profile.Hosts)
            {
                ByHost.TryAdd(host, profile);
            }
            ByName[profile.Name] = profile;
            Settings[profile.Name] = settings;
            if (profile.Token is { } token)
            {
                foreach (var alias in ProfileOptionsValidator.LoopbackAliases(HostKey.FromUri(token.Endpoint)))
                {
                    TokenEndpoints.Add(alias);
                }
            }
        }
    }
}

/// <summary>
/// What a configuration change does to the profiles: the catalog it gives (<see cref="After"/>), and which profiles
/// arrive (added, or changed: a new <see cref="TlsProfile"/> under the same name) and which leave (removed, or the old
/// instance of a changed one). An unchanged profile is in neither list and keeps its instance.
/// </summary>
internal sealed record ProfileChange(
    ProfileCatalog.Snapshot? Before,
    ProfileCatalog.Snapshot After,
    IReadOnlyList<TlsProfile> Added,
    IReadOnlyList<(TlsProfile Old, TlsProfile New)> Changed,
    IReadOnlyList<TlsProfile> Removed)
{
    public bool IsEmpty => Added.Count == 0 && Changed.Count == 0 && Removed.Count == 0;

    /// <summary>The instances requests resolve from now on that did not exist before: added and changed profiles.</summary>
    public IEnumerable<TlsProfile> Arriving => Added.Concat(Changed.Select(c => c.New));

    /// <summary>The instances no new request resolves: removed profiles and the old instance of changed ones.</summary>
    public IEnumerable<TlsProfile> Leaving => Changed.Select(c => c.Old).Concat(Removed);
}
