using ServiceNodeInvoker.Primitives;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>
/// Infra is the source of truth for app settings, so it must be able to say everything the app reads.
/// The settings functions of infra/settings.bicep are evaluated by the Bicep CLI itself (build-params) for a
/// profile with every field, a forward-mode profile, a shorthand one and the callers, and the app's own
/// start-up check runs on what they produce: the template and the options model cannot drift apart.
/// </summary>
public sealed class AppSettingsTests
{
    private const string Vault = "https://test-vault.vault.azure.net/";
    private const string Thumbprint = "A71BD7FFFCCA9A419618D4EB8020BA6F6A75E7D406A91A72C237F47186E52B3D";

    private const string Profiles = """
        [
          {
            name: 'full'
            hosts: ['full.contoso.com:8443', 'full-eu.contoso.com']
            clientCertificate: { name: 'full-client', version: '0123456789abcdef0123456789abcdef', vaultUri: 'https://other-vault.vault.azure.net/' }
            trustedCa: { name: 'full-ca' }
            serverCertificatePins: ['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']
            timeoutSeconds: 45
            maxResponseBytes: 1048576
            allowedCallers: ['partner']
            baseUrl: 'https://full.contoso.com:8443/v1'
            forwardCallerHeaders: ['X-Forwarded-For']
            allowPrivateNetwork: true
            allowLegacyServerCrypto: true
            token: {
              endpoint: 'https://login.contoso.com/oauth2/token'
              clientId: 'bot-platform'
              scopes: ['payments:read', 'payments:write']
              audience: 'payments-api'
              resource: 'https://full.contoso.com/'
              clientAuthentication: 'ClientSecretBasic'
              clientSecret: { name: 'full-oauth-secret' }
            }
          }
          {
            name: 'forwarded'
            hosts: ['api.contoso.com']
            certificateName: 'api-client'
            trustedCaName: 'api-ca'
            baseUrl: 'https://api.contoso.com/v2'
          }
          {
            name: 'plain'
            hosts: ['public.contoso.com']
          }
        ]
        """;

    private static Dictionary<string, string> Evaluate(string expression)
    {
        var folder = Directory.CreateTempSubdirectory("sni-bicepparam-").FullName;
        try
        {
            File.Copy(Path.Combine(Tools.InfraDirectory, "settings.bicep"), Path.Combine(folder, "settings.bicep"));
            File.Copy(Path.Combine(Tools.InfraDirectory, "types.bicep"), Path.Combine(folder, "types.bicep"));
            File.WriteAllText(Path.Combine(folder, "probe.bicep"), "param settings array\noutput count int = length(settings)\n");
            File.WriteAllText(Path.Combine(folder, "probe.bicepparam"),
                $"using 'probe.bicep'\nimport {{ profileSettings, callerSettings }} from 'settings.bicep'\nparam settings = {expression}\n");
            var (exit, output, error) = Tools.Run(Tools.Bicep, "build-params probe.bicepparam --stdout", folder);
            Assert.True(exit == 0, $"bicep build-params failed: {error}");
            var parameters = JsonDocument.Parse(JsonDocument.Parse(output).RootElement.GetProperty("parametersJson").GetString()!).RootElement;
            return parameters.GetProperty("parameters").GetProperty("settings").GetProperty("value").EnumerateArray()
                .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("value").GetString()!);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static IConfiguration AsConfiguration(Dictionary<string, string> appSettings) =>
        new ConfigurationBuilder().AddInMemoryCollection(appSettings.Select(s =>
            KeyValuePair.Create(s.Key.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal), (string?)s.Value))).Build();

    [Fact]
    public void A_profile_with_every_field_and_the_callers_yield_settings_the_apps_own_check_accepts()
    {
        var settings = Evaluate($"concat(profileSettings({Profiles}, '{Vault}'), callerSettings('CertificateRequired', 'caller-root', " +
            $"[{{ name: 'partner', thumbprint: '{Thumbprint}' }}], [{{ caller: 'partner', profiles: ['full', 'forwarded'] }}], '{Vault}'))");
        var configuration = AsConfiguration(settings);

        Assert.Empty(ConfigurationCheck.Problems(configuration, InvokerHostKind.Functions));

        // The full profile sets every setting of the options model: infra can say everything a profile is.
        var full = configuration.GetSection("Invoker:Profiles:full");
        foreach (var setting in typeof(ProfileOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var section = full.GetSection(setting.Name);
            Assert.True(section.Value is not null || section.GetChildren().Any(), $"the typed profile cannot set {setting.Name}");
        }
        Assert.Equal("0123456789abcdef0123456789abcdef", settings["Invoker__Profiles__full__ClientCertificate__Version"]);
        Assert.Equal("https://other-vault.vault.azure.net/", settings["Invoker__Profiles__full__ClientCertificate__VaultUri"]);
        Assert.Equal(Vault, settings["Invoker__Profiles__full__TrustedCa__VaultUri"]);
        Assert.Equal("full-eu.contoso.com", settings["Invoker__Profiles__full__Hosts__1"]);
        Assert.Equal("True", settings["Invoker__Profiles__full__AllowLegacyServerCrypto"]);
        Assert.Equal("payments:write", settings["Invoker__Profiles__full__Token__Scopes__1"]);
        Assert.Equal("KeyVault", settings["Invoker__Profiles__full__Token__ClientSecret__Source"]);
        Assert.Equal("full-oauth-secret", settings["Invoker__Profiles__full__Token__ClientSecret__Name"]);
        Assert.Equal(Vault, settings["Invoker__Profiles__full__Token__ClientSecret__VaultUri"]);

        // A forward-mode profile deploys from azd alone; the shorthand names reach the same settings.
        Assert.Equal("https://api.contoso.com/v2", settings["Invoker__Profiles__forwarded__BaseUrl"]);
        Assert.Equal("api-client", settings["Invoker__Profiles__forwarded__ClientCertificate__Name"]);
        Assert.Equal("KeyVault", settings["Invoker__Profiles__forwarded__TrustedCa__Source"]);
        Assert.False(settings.ContainsKey("Invoker__Profiles__plain__ClientCertificate__Source"));

        // Every caller setting the Functions app reads (keys are the Functions host's, the front-end switch the standalone host's).
        var callers = configuration.GetSection("Invoker:Callers");
        foreach (var setting in typeof(CallerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite)
            .Select(p => p.Name).Except(["ApiKeys", "AdminKeys", "BehindCertificateForwardingFrontEnd"]))
        {
            var section = callers.GetSection(setting);
            Assert.True(section.Value is not null || section.GetChildren().Any(), $"infra cannot set Callers:{setting}");
        }
    }

    [Fact]
    public void A_mistake_in_a_profile_reaches_the_apps_check_with_its_setting_named()
    {
        // The check on this side can fail: a profile whose BaseUrl is on a host it does not own.
        var settings = Evaluate($"profileSettings([{{ name: 'p', hosts: ['a.contoso.com'], baseUrl: 'https://b.contoso.com/v1' }}], '{Vault}')");
        Assert.Contains(ConfigurationCheck.Problems(AsConfiguration(settings), InvokerHostKind.Functions),
            p => p.StartsWith("Invoker:Profiles:p:BaseUrl: its host:port b.contoso.com:443 is not one of the profile's Hosts", StringComparison.Ordinal));
    }
}
