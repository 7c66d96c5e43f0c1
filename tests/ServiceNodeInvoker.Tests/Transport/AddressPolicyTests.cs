using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Transport;

/// <summary>The connect-time address policy, for every address class, in the encodings attackers use.</summary>
[Trait("Tier", "Fast")]
public sealed class AddressPolicyTests
{
    private static readonly AddressPolicy Policy = new(allowLoopback: false);

    [Theory]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("169.254.0.1", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("::ffff:169.254.169.254", "link-local")]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local")] // NAT64 of the metadata address
    [InlineData("2002:a9fe:a9fe::1", "link-local")] // 6to4 of the metadata address
    [InlineData("::ffff:0:a9fe:a9fe", "link-local")] // SIIT (::ffff:0:0/96) of the metadata address
    [InlineData("::ffff:0:7f00:1", "loopback")] // SIIT of 127.0.0.1
    [InlineData("64:ff9b:1::a9fe:a9fe", "link-local")] // local-use NAT64 (RFC 8215), a /96 inside the /48
    [InlineData("64:ff9b:1:a9fe:a9:fe00::", "link-local")] // local-use NAT64, RFC 6052 /48 layout (u octet skipped)
    [InlineData("64:ff9b:1::a00:1", "private-network")] // local-use NAT64 of 10.0.0.1
    [InlineData("168.63.129.16", "azure-platform")]
    [InlineData("::ffff:168.63.129.16", "azure-platform")]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("10.1.2.3", "private-network")]
    [InlineData("172.16.0.1", "private-network")]
    [InlineData("172.31.255.255", "private-network")]
    [InlineData("192.168.1.1", "private-network")]
    [InlineData("100.64.0.1", "private-network")]
    [InlineData("fd00::1", "private-network")]
    [InlineData("fc00::1", "private-network")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("255.255.255.255", "reserved or broadcast")]
    [InlineData("240.0.0.1", "reserved or broadcast")]
    public void Forbidden_addresses_name_their_rule(string address, string rule)
    {
        Assert.Contains(rule, Policy.Violation(IPAddress.Parse(address), allowPrivateNetwork: false));
    }

    [Theory]
    [InlineData("https://0xa9.0xfe.0xa9.0xfe/")]
    [InlineData("https://2852039166/")]
    [InlineData("https://0251.0376.0251.0376/")]
    [InlineData("https://169.254.43518/")]
    [InlineData("https://[::ffff:a9fe:a9fe]/")]
    public void Metadata_address_in_any_encoding_is_link_local(string url)
    {
        var address = IPAddress.Parse(new Uri(url).IdnHost.Trim('[', ']'));
        Assert.Contains("link-local", Policy.Violation(address, allowPrivateNetwork: true));
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.1.1")]
    [InlineData("fd00::1")]
    public void Private_addresses_are_allowed_only_with_AllowPrivateNetwork(string address)
    {
        Assert.Null(Policy.Violation(IPAddress.Parse(address), allowPrivateNetwork: true));
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("168.63.129.16")]
    [InlineData("127.0.0.1")]
    public void AllowPrivateNetwork_never_opens_link_local_platform_or_loopback(string address)
    {
        Assert.NotNull(Policy.Violation(IPAddress.Parse(address), allowPrivateNetwork: true));
    }

    [Theory]
    [InlineData("20.50.60.70")]
    [InlineData("2603:1030::1")]
    public void Public_addresses_are_allowed(string address)
    {
        Assert.Null(Policy.Violation(IPAddress.Parse(address), allowPrivateNetwork: false));
    }

    [Fact]
    public void Loopback_is_allowed_only_by_the_global_switch()
    {
        Assert.Null(new AddressPolicy(allowLoopback: true).Violation(IPAddress.Loopback, allowPrivateNetwork: false));
    }
}
