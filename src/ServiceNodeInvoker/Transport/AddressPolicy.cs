using System.Net;
using System.Net.Sockets;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// Which resolved addresses may be connected to. Checked on the addresses actually dialled, so a
/// name that resolves (or re-resolves) to an internal address is refused however it was spelled.
/// </summary>
internal sealed class AddressPolicy(bool allowLoopback)
{
    private static readonly IPAddress AzurePlatform = IPAddress.Parse("168.63.129.16");

    /// <summary>Returns the name of the rule that forbids <paramref name="address"/>, or null when it is allowed.</summary>
    public string? Violation(IPAddress address, bool allowPrivateNetwork)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            foreach (var embedded in EmbeddedIPv4(address))
            {
                if (Violation(embedded, allowPrivateNetwork) is { } rule)
                {
                    return rule;
                }
            }
        }
        if (address.Equals(AzurePlatform))
        {
            return "azure-platform-address (168.63.129.16)";
        }
        if (IPAddress.IsLoopback(address))
        {
            return allowLoopback ? null : "loopback (enable Invoker:AllowLoopback only for tests and the demo)";
        }
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => ViolationV4(address.GetAddressBytes(), allowPrivateNetwork),
            AddressFamily.InterNetworkV6 => ViolationV6(address, allowPrivateNetwork),
            _ => "unsupported-address-family",
        };
    }

    private static string? ViolationV4(byte[] b, bool allowPrivate) => b switch
    {
        [0, ..] => "unspecified (0.0.0.0/8)",
        [169, 254, ..] => "link-local (169.254.0.0/16, includes the instance metadata endpoint)",
        [>= 224 and <= 239, ..] => "multicast",
        [>= 240, ..] => "reserved or broadcast (240.0.0.0/4)",
        [10, ..] or [172, >= 16 and <= 31, ..] or [192, 168, ..] or [100, >= 64 and <= 127, ..]
            => allowPrivate ? null : "private-network (set AllowPrivateNetwork on the profile for VNet backends)",
        _ => null,
    };

    private static string? ViolationV6(IPAddress a, bool allowPrivate)
    {
        if (a.Equals(IPAddress.IPv6Any))
        {
            return "unspecified (::)";
        }
        if (a.IsIPv6LinkLocal)
        {
            return "link-local (fe80::/10)";
        }
        if (a.IsIPv6Multicast)
        {
            return "multicast";
        }
        var b = a.GetAddressBytes();
        var uniqueLocal = (b[0] & 0xFE) == 0xFC; // fc00::/7
        return (uniqueLocal || a.IsIPv6SiteLocal) && !allowPrivate
            ? "private-network (set AllowPrivateNetwork on the profile for VNet backends)"
            : null;
    }

    /// <summary>
    /// IPv4 addresses carried inside IPv6: NAT64 well-known (64:ff9b::/96) and local-use (64:ff9b:1::/48,
    /// RFC 8215: both the RFC 6052 /48 layout and a /96 inside it are read), SIIT (::ffff:0:0/96),
    /// 6to4 (2002::/16) and IPv4-compatible (::/96). Every reading is checked: any forbidden one refuses.
    /// </summary>
    private static List<IPAddress> EmbeddedIPv4(IPAddress a)
    {
        var b = a.GetAddressBytes();
        var found = new List<IPAddress>(2);
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
        {
            if (b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
            {
                found.Add(new IPAddress(b.AsSpan(12, 4)));
            }
            else if (b[4] == 0x00 && b[5] == 0x01)
            {
                found.Add(new IPAddress(new[] { b[6], b[7], b[9], b[10] })); // RFC 6052 /48: bits 64–71 are the u octet
                found.Add(new IPAddress(b.AsSpan(12, 4)));                   // a /96 inside the /48
            }
        }
        else if (b[0] == 0x20 && b[1] == 0x02)
        {
            found.Add(new IPAddress(b.AsSpan(2, 4)));
        }
        else if (b.AsSpan(0, 8).IndexOfAnyExcept((byte)0) < 0 && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        {
            found.Add(new IPAddress(b.AsSpan(12, 4))); // SIIT ::ffff:0:a.b.c.d
        }
        else if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && !a.Equals(IPAddress.IPv6Any) && !a.Equals(IPAddress.IPv6Loopback))
        {
            found.Add(new IPAddress(b.AsSpan(12, 4)));
        }
        // A reading of 0.0.0.0 is the other layout's padding, not an address: name the real one.
        return found.Count > 1 ? found.Where(f => !f.Equals(IPAddress.Any)).DefaultIfEmpty(IPAddress.Any).ToList() : found;
    }
}

/// <summary>The target resolved to an address the policy forbids; no connection was attempted.</summary>
internal sealed class TargetAddressNotAllowedException(string host, string rule)
    : Exception($"{host} resolves to an address that is not allowed: {rule}.");
