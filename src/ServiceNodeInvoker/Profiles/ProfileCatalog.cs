using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// All profiles, validated once at start-up, and the host:port → profile ownership map that picks
/// the profile for a URL.
/// </summary>
internal sealed class ProfileCatalog
{
    private readonly Dictionary<string, TlsProfile> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<HostKey, TlsProfile> _byHost = [];
    private readonly HashSet<HostKey> _tokenEndpoints = [];

    /// <param name="profiles">The Invoker:Profiles settings, validated (<see cref="ProfileOptionsValidator"/>): nothing here can fail.</param>
    public ProfileCatalog(IReadOnlyDictionary<string, ProfileOptions> profiles)
    {
        foreach (var (name, profileOptions) in profiles)
        {
            var profile = Build(name, profileOptions);
            foreach (var host in profile.Hosts)
            {
                _byHost.TryAdd(host, profile);
            }
            _byName[name] = profile;
            if (profile.Token is { } token)
            {
                foreach (var alias in ProfileOptionsValidator.LoopbackAliases(HostKey.FromUri(token.Endpoint)))
                {
                    _tokenEndpoints.Add(alias);
                }
            }
        }
    }

    public IReadOnlyCollection<TlsProfile> Profiles => _byName.Values;

    /// <summary>The profile of that name (case-insensitive), or null.</summary>
    public TlsProfile? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The profile a request names (case-insensitive); 404 unknown-profile when there is none.</summary>
    public TlsProfile Named(string name) =>
        _byName.GetValueOrDefault(name) ?? throw new InvokerException(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile");

    /// <summary>Picks the profile for a request: by name if given (and it must own the URL), else by the URL's host:port.</summary>
    public TlsProfile Resolve(string? name, Uri url)
    {
        var target = CheckTarget(url);
        if (_tokenEndpoints.Count > 0 && _tokenEndpoints.Contains(target)) // no hash of the target when no profile has a token source
        {
            // No profile owns it (start-up refuses that), but the caller is told why rather than "no profile owns it" —
            // not which profiles use it: a caller may have no grant on them.
            throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"{target} is a profile's token endpoint: the invoker asks it for tokens itself, with the profile's certificate; callers may not call it.", "url");
        }
        if (name is not null)
        {
            var named = Named(name);
            if (!named.Owns(target))
            {
                throw new InvokerException(ErrorCodes.TargetNotAllowed,
                    $"Profile '{named.Name}' does not own {target}: add it to the profile's Hosts to allow it.", "url");
            }
            return named;
        }
        return _byHost.TryGetValue(target, out var owner)
            ? owner
            : throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"No profile owns {target}: only hosts listed in a profile's Hosts are called.{OtherPorts(target)}", "url");
    }

    /// <summary>" Profile 'x' owns localhost:8443." when the host is owned on other ports: likely a missing or wrong port in the URL.</summary>
    private string OtherPorts(HostKey target)
    {
        var others = _byHost.Where(h => string.Equals(h.Key.Host, target.Host, StringComparison.OrdinalIgnoreCase))
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

    private static TlsProfile Build(string name, ProfileOptions o) => new()
    {
        Name = name,
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
}
