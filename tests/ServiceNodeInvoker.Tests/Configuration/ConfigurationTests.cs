using Microsoft.Extensions.Options;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Configuration;

/// <summary>Invalid configuration stops start-up, listing every problem by its full setting path (in process; see StartupRefusalTests for the real process).</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task A_host_owned_by_two_profiles_fails_start_up_naming_both()
    {
        var settings = new ProfileSettings()
            .Set("alpha", "Hosts:0", "API.Contoso.com")
            .Set("beta", "Hosts:0", "api.contoso.com.:443").Settings;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));

        Assert.Contains("'alpha'", error.Message);
        Assert.Contains("'beta'", error.Message);
        Assert.Contains("api.contoso.com:443", error.Message);
    }

    [Theory]
    [InlineData("Hosts:0", "https://api.contoso.com/path", "Invoker:Profiles:p:Hosts:0")]
    [InlineData("Timeout", "300", "Invoker:Profiles:p:Timeout")]
    [InlineData("Timeout", "soon", "Invoker:Profiles:p:Timeout")]
    [InlineData("ServerCertificatePins:0", "abc", "Invoker:Profiles:p:ServerCertificatePins:0")]
    [InlineData("ClientCertificate:Source", "File", "Invoker:Profiles:p:ClientCertificate:Path")]
    [InlineData("ClientCertificate:Source", "Pem", "Invoker:Profiles:p:ClientCertificate:CertificatePath")]
    [InlineData("ClientCertificate:Path", "/x.pfx", "Invoker:Profiles:p:ClientCertificate:Source")]
    [InlineData("MaxResponseBytes", "-1", "Invoker:Profiles:p:MaxResponseBytes")]
    [InlineData("MaxResponseBytes", "10MiB", "Invoker:Profiles:p:MaxResponseBytes: '10MiB' is not a whole number of bytes")]
    [InlineData("ClientCertificat:Source", "File", "Invoker:Profiles:p:ClientCertificat: unknown setting; did you mean 'ClientCertificate'?")]
    public async Task Invalid_settings_fail_start_up_naming_the_setting(string setting, string value, string named)
    {
        var settings = new ProfileSettings().Set("p", "Hosts:1", "api.contoso.com:8443").Set("p", setting, value).Settings;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));

        Assert.Contains(error.Failures, f => f.StartsWith(named, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_problem_is_listed_at_once()
    {
        var settings = new ProfileSettings()
            .Set("a", "Hosts:0", "a.contoso.com").Set("a", "MaxResponseBytes", "10MiB").Set("a", "AllowPrivateNetwork", "yes")
            .Set("b", "Hosts:0", "b.contoso.com").Set("b", "ClientCertificate:Source", "Pfx").Settings;
        settings["Invoker:Credential"] = "Bogus";

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));

        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Profiles:a:AllowPrivateNetwork: 'yes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Profiles:b:ClientCertificate:Source: 'Pfx' is not one of KeyVault, File, Pem", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Credential: 'Bogus' is not one of Auto, ManagedIdentity, AzureCli, Default", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Api_keys_must_be_configured_as_hashes()
    {
        var settings = new Dictionary<string, string?> { ["Invoker:Callers:ApiKeys:bot"] = "plain-text-key" };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));

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

    [Fact]
    public async Task A_wildcard_host_is_named_as_unsupported()
    {
        var settings = new ProfileSettings().Set("p", "Hosts:0", "*.contoso.com").Settings;
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Profiles:p:Hosts:0: '*.contoso.com': wildcards are not supported", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_value_that_does_not_convert_hides_none_of_the_profiles_other_problems()
    {
        var settings = new ProfileSettings().Set("a", "Hosts:0", "a.contoso.com").Set("a", "MaxResponseBytes", "20MiB").Set("a", "Timeout", "30s").Settings;
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => InvokerHost.StartAsync(settings));
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Profiles:a:MaxResponseBytes: '20MiB' is not a whole number", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Invoker:Profiles:a:Timeout: '30s' is neither seconds", StringComparison.Ordinal));
    }
}
