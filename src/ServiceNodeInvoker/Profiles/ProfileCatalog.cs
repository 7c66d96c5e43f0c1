using System.Globalization;
using System.Text.RegularExpressions;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// All profiles, validated once at start-up, and the host:port → profile ownership map that picks
/// the profile for a URL.
/// </summary>
public sealed partial class ProfileCatalog
{
    private readonly Dictionary<string, TlsProfile> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<HostKey, TlsProfile> _byHost = [];

    public ProfileCatalog(InvokerOptions options, CertificateSourceFactory sources)
    {
        foreach (var (name, profileOptions) in options.Profiles)
        {
            var profile = Build(name, profileOptions, sources);
            foreach (var host in profile.Hosts)
            {
                if (_byHost.TryGetValue(host, out var owner))
                {
                    throw new ProfileConfigurationException(
                        $"Profiles '{owner.Name}' and '{name}' both list {host} in Hosts: exactly one profile may own a host:port.");
                }
                _byHost[host] = profile;
            }
            _byName[name] = profile;
        }
    }

    public IReadOnlyCollection<TlsProfile> Profiles => _byName.Values;

    /// <summary>Picks the profile for a request: by name if given (and it must own the URL), else by the URL's host:port.</summary>
    public TlsProfile Resolve(string? name, Uri url)
    {
        var target = CheckTarget(url);
        if (name is not null)
        {
            if (!_byName.TryGetValue(name, out var named))
            {
                throw new InvokerException(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile");
            }
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
                $"No profile owns {target}: only hosts listed in a profile's Hosts are called.", "url");
    }

    private static HostKey CheckTarget(Uri url)
    {
        if (!string.Equals(url.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvokerException(ErrorCodes.TargetNotAllowed,
                $"Only https URLs are called (the URL's scheme is '{url.Scheme}').", "url");
        }
        if (url.OriginalString.Contains('\\') || url.OriginalString.Any(char.IsWhiteSpace))
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

    private static TlsProfile Build(string name, ProfileOptions o, CertificateSourceFactory sources)
    {
        string Setting(string setting) => $"Invoker:Profiles:{name}:{setting}";
        if (!ProfileName().IsMatch(name))
        {
            throw new ProfileConfigurationException(
                $"Profile name '{name}' is invalid: use letters, digits, '-' and '_' (at most 64).");
        }
        if (o.Hosts.Count == 0)
        {
            throw new ProfileConfigurationException($"{Setting("Hosts")} is empty: list the host:port entries the profile owns.");
        }
        var hosts = new HashSet<HostKey>();
        foreach (var entry in o.Hosts)
        {
            if (!HostKey.TryParse(entry, out var key))
            {
                throw new ProfileConfigurationException($"{Setting("Hosts")} entry '{entry}' is not a host or host:port.");
            }
            hosts.Add(key);
        }

        var timeout = ParseTimeout(o.Timeout, Setting("Timeout"));
        if (o.MaxResponseBytes is <= 0)
        {
            throw new ProfileConfigurationException($"{Setting("MaxResponseBytes")} must be a positive number of bytes.");
        }

        return new TlsProfile
        {
            Name = name,
            Hosts = hosts,
            ClientCertificate = IsUnset(o.ClientCertificate)
                ? null : sources.Create(o.ClientCertificate!, Setting("ClientCertificate"), CertificateRole.Client),
            TrustedCa = IsUnset(o.TrustedCa) ? null : sources.Create(o.TrustedCa!, Setting("TrustedCa"), CertificateRole.TrustedCa),
            ServerCertificatePins = o.ServerCertificatePins.Select(p => ParsePin(p, Setting("ServerCertificatePins"))).ToArray(),
            Timeout = timeout,
            MaxResponseBytes = o.MaxResponseBytes ?? TlsProfile.DefaultMaxResponseBytes,
            AllowedCallers = new HashSet<string>(o.AllowedCallers, StringComparer.OrdinalIgnoreCase),
            AllowPrivateNetwork = o.AllowPrivateNetwork,
        };
    }

    /// <summary>A section whose settings are all empty (as app settings often leave them) counts as absent.</summary>
    private static bool IsUnset(CertificateSourceOptions? o) =>
        o is null || (o.Source is null && o.VaultUri is null && string.IsNullOrWhiteSpace(o.Name) && string.IsNullOrWhiteSpace(o.Path)
                      && string.IsNullOrWhiteSpace(o.CertificatePath) && string.IsNullOrWhiteSpace(o.KeyPath));

    private static TimeSpan ParseTimeout(string? text, string setting)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return TlsProfile.DefaultTimeout;
        }
        TimeSpan value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
        }
        else if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value))
        {
            throw new ProfileConfigurationException($"{setting} '{text}' is neither seconds (\"30\") nor a time span (\"00:00:30\").");
        }
        if (value <= TimeSpan.Zero || value.TotalSeconds > TlsProfile.MaxTimeoutSeconds)
        {
            throw new ProfileConfigurationException(
                $"{setting} must be more than 0 and at most {TlsProfile.MaxTimeoutSeconds} seconds (Azure's load balancer limit).");
        }
        return value;
    }

    /// <summary>Accepts "sha256/BASE64", BASE64 or hex (colons allowed) of a SHA-256 digest.</summary>
    private static byte[] ParsePin(string pin, string setting)
    {
        var text = pin.Trim();
        if (text.StartsWith("sha256/", StringComparison.OrdinalIgnoreCase))
        {
            text = text["sha256/".Length..];
        }
        var hex = text.Replace(":", "", StringComparison.Ordinal);
        if (hex.Length == 64 && hex.All(Uri.IsHexDigit))
        {
            return Convert.FromHexString(hex);
        }
        var bytes = new byte[32];
        if (Convert.TryFromBase64String(text, bytes, out var written) && written == 32)
        {
            return bytes;
        }
        throw new ProfileConfigurationException($"{setting} entry '{pin}' is not a SHA-256 digest in base64 or hex.");
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ProfileName();
}
