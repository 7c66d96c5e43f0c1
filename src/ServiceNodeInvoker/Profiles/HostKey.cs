using System.Globalization;
using System.Net;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// A normalised host:port: lower case, punycode for IDN, no trailing dot, no IPv6 brackets,
/// IP literals in canonical form, port explicit. Profiles own these; URLs are matched by them.
/// </summary>
internal readonly record struct HostKey(string Host, int Port)
{
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public static HostKey FromUri(Uri url) => new(NormaliseHost(url.IdnHost), url.Port);

    /// <summary>Parses a configured entry such as <c>api.contoso.com</c>, <c>api.contoso.com:8443</c> or <c>[::1]:443</c>.</summary>
    public static bool TryParse(string entry, out HostKey key)
    {
        key = default;
        entry = entry.Trim();
        if (entry.Length == 0 || entry.Contains('/') || entry.Contains('@') || entry.Contains('?') || entry.Contains('#'))
        {
            return false;
        }
        if (!Uri.TryCreate("https://" + entry, UriKind.Absolute, out var url) || url.IdnHost.Length == 0)
        {
            return false;
        }
        var host = NormaliseHost(url.IdnHost);
        if (host.Length == 0)
        {
            return false;
        }
        key = new HostKey(host, url.Port);
        return true;
    }

    private static string NormaliseHost(string host)
    {
        host = host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        // Canonical text for IP literals so "::0:1" and "::1" match the same entry.
        return IPAddress.TryParse(host, out var ip) ? ip.ToString().ToLower(CultureInfo.InvariantCulture) : host;
    }
}
