using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tests.Infrastructure;

namespace ServiceNodeInvoker.Tests;

/// <summary>Invalid configuration stops start-up with a message naming the profile and the setting.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task A_host_owned_by_two_profiles_fails_start_up_naming_both()
    {
        var settings = new ProfileSettings()
            .Set("alpha", "Hosts:0", "API.Contoso.com")
            .Set("beta", "Hosts:0", "api.contoso.com.:443").Settings;

        var error = await Assert.ThrowsAsync<ProfileConfigurationException>(() => InvokerHost.StartAsync(settings));

        Assert.Contains("'alpha'", error.Message);
        Assert.Contains("'beta'", error.Message);
        Assert.Contains("api.contoso.com:443", error.Message);
    }

    [Theory]
    [InlineData("Hosts:0", "https://api.contoso.com/path", "Invoker:Profiles:p:Hosts")]
    [InlineData("Timeout", "300", "Invoker:Profiles:p:Timeout")]
    [InlineData("Timeout", "soon", "Invoker:Profiles:p:Timeout")]
    [InlineData("ServerCertificatePins:0", "abc", "Invoker:Profiles:p:ServerCertificatePins")]
    [InlineData("ClientCertificate:Source", "File", "Invoker:Profiles:p:ClientCertificate:Path")]
    [InlineData("ClientCertificate:Source", "Pem", "Invoker:Profiles:p:ClientCertificate:CertificatePath")]
    [InlineData("ClientCertificate:Path", "/x.pfx", "Invoker:Profiles:p:ClientCertificate:Source")]
    [InlineData("MaxResponseBytes", "-1", "Invoker:Profiles:p:MaxResponseBytes")]
    public async Task Invalid_settings_fail_start_up_naming_the_setting(string setting, string value, string named)
    {
        var settings = new ProfileSettings().Set("p", "Hosts:1", "api.contoso.com:8443").Set("p", setting, value).Settings;

        var error = await Assert.ThrowsAsync<ProfileConfigurationException>(() => InvokerHost.StartAsync(settings));

        Assert.Contains(named, error.Message);
    }

    [Fact]
    public async Task Api_keys_must_be_configured_as_hashes()
    {
        var settings = new Dictionary<string, string?> { ["Invoker:Callers:ApiKeys:bot"] = "plain-text-key" };

        var error = await Assert.ThrowsAsync<ProfileConfigurationException>(() => InvokerHost.StartAsync(settings));

        Assert.Contains("Invoker:Callers:ApiKeys:bot", error.Message);
        Assert.DoesNotContain("plain-text-key", error.Message);
    }

    [Theory]
    [InlineData("api.contoso.com", "api.contoso.com:443")]
    [InlineData("API.Contoso.COM.:8443", "api.contoso.com:8443")]
    [InlineData("bücher.example", "xn--bcher-kva.example:443")]
    [InlineData("[::1]:8443", "[::1]:8443")]
    [InlineData("127.0.0.1", "127.0.0.1:443")]
    public void Host_entries_are_normalised(string entry, string expected)
    {
        Assert.True(HostKey.TryParse(entry, out var key));
        Assert.Equal(expected, key.ToString());
    }

    [Theory]
    [InlineData("https://API.contoso.com./x", "api.contoso.com:443")]
    [InlineData("https://bücher.example:8443/", "xn--bcher-kva.example:8443")]
    [InlineData("https://[0:0::1]/", "[::1]:443")]
    public void Urls_are_normalised_the_same_way(string url, string expected) =>
        Assert.Equal(expected, HostKey.FromUri(new Uri(url)).ToString());
}
