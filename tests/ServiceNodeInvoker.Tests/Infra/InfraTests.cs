using ServiceNodeInvoker.Settings;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ServiceNodeInvoker.Configuration;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>Offline checks of infra/ and azure.yaml: what a reviewer would otherwise check by eye.</summary>
public sealed partial class InfraTests
{
    private static readonly Lazy<CompiledTemplate> Template = new(() =>
    {
        var (template, diagnostics) = CompiledTemplate.Build(Path.Combine(Tools.InfraDirectory, "main.bicep"));
        Assert.True(diagnostics.Count == 0, string.Join('\n', diagnostics));
        return template!;
    });

    public static readonly Dictionary<string, string> ExpectedRoles = new()
    {
        ["4633458b-17de-408a-b874-0445c86b69e6"] = "Microsoft.KeyVault/vaults",          // Key Vault Secrets User (app)
        ["db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"] = "Microsoft.KeyVault/vaults",          // Key Vault Certificate User (app)
        ["a4417e6f-fecd-4de8-b567-7b0420556985"] = "Microsoft.KeyVault/vaults",          // Key Vault Certificates Officer (deployer)
        ["b86a8fe4-44ce-4948-aee5-eccb2c155cd7"] = "Microsoft.KeyVault/vaults",          // Key Vault Secrets Officer (deployer)
        ["b7e6dc6d-f1e8-4753-8033-0f276bb0955b"] = "Microsoft.Storage/storageAccounts",  // Storage Blob Data Owner (app)
        ["3913510d-42f4-4e42-8a64-420c390055eb"] = "Microsoft.Insights/components",      // Monitoring Metrics Publisher (app)
    };

    [Fact]
    public void Every_bicep_file_builds_and_lints_without_a_diagnostic()
    {
        var files = Directory.GetFiles(Tools.InfraDirectory, "*.bicep", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("main.bicep", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var (exit, output, error) = Tools.Run(Tools.Bicep, $"lint \"{file}\"");
            var diagnostics = CompiledTemplate.Diagnostics(output + error).ToList();
            Assert.True(exit == 0 && diagnostics.Count == 0, $"{file}: {string.Join('\n', diagnostics)}");
        }
        Assert.NotNull(Template.Value);
    }

    [Fact]
    public void A_misspelled_property_is_caught()
    {
        var copy = CopyInfra();
        var app = Path.Combine(copy, "modules", "functionapp.bicep");
        File.WriteAllText(app, File.ReadAllText(app).Replace("httpsOnly: true", "httpsOnlyy: true", StringComparison.Ordinal));

        var (_, diagnostics) = CompiledTemplate.Build(Path.Combine(copy, "main.bicep"));

        Assert.Contains(diagnostics, d => d.Contains("BCP0", StringComparison.Ordinal) && d.Contains("httpsOnlyy", StringComparison.Ordinal));
    }

    [Fact]
    public void Roles_are_exactly_the_least_privilege_set_on_the_right_resources()
    {
        Assert.Empty(Template.Value.RoleProblems(ExpectedRoles));
    }

    [Fact]
    public void A_misspelled_role_id_is_caught()
    {
        var copy = CopyInfra();
        var vault = Path.Combine(copy, "modules", "keyvault.bicep");
        File.WriteAllText(vault, File.ReadAllText(vault).Replace("4633458b-17de-408a-b874-0445c86b69e6", "4633458b-17de-408a-b874-0445c86b69e7", StringComparison.Ordinal));

        var (template, diagnostics) = CompiledTemplate.Build(Path.Combine(copy, "main.bicep"));

        Assert.Empty(diagnostics); // Bicep cannot know role ids: only our check can
        Assert.Contains(template!.RoleProblems(ExpectedRoles), p => p.Contains("4633458b-17de-408a-b874-0445c86b69e6", StringComparison.Ordinal));
    }

    [Fact]
    public void Function_app_runs_dotnet_isolated_10_https_only_tls12_without_ftp_or_basic_auth()
    {
        var app = Template.Value.ResourcesOfType("Microsoft.Web/sites").Single();
        var properties = app["properties"]!;
        Assert.Equal("dotnet-isolated", (string?)properties["functionAppConfig"]!["runtime"]!["name"]);
        Assert.Equal("10.0", (string?)properties["functionAppConfig"]!["runtime"]!["version"]);
        Assert.True((bool?)properties["httpsOnly"]);
        Assert.Equal("1.2", (string?)properties["siteConfig"]!["minTlsVersion"]);
        Assert.Null(properties["siteConfig"]!["ftpsState"]); // Flex rejects it (51021); the ftp policy turns FTP off
        Assert.Equal("UserAssigned", (string?)app["identity"]!["type"]);
        Assert.Equal("UserAssignedIdentity", (string?)properties["functionAppConfig"]!["deployment"]!["storage"]!["authentication"]!["type"]);

        var policies = Template.Value.ResourcesOfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies").ToList();
        Assert.Equal(2, policies.Count);
        Assert.All(policies, p => Assert.False((bool?)p["properties"]!["allow"]));
        var plan = Template.Value.ResourcesOfType("Microsoft.Web/serverfarms").Single();
        Assert.Equal("FC1", (string?)plan["sku"]!["name"]);
    }

    [Fact]
    public void Storage_key_vault_and_app_insights_accept_only_entra_identities()
    {
        var storage = Template.Value.ResourcesOfType("Microsoft.Storage/storageAccounts").Single()["properties"]!;
        Assert.False((bool?)storage["allowSharedKeyAccess"]);
        Assert.False((bool?)storage["allowBlobPublicAccess"]);
        var vault = Template.Value.ResourcesOfType("Microsoft.KeyVault/vaults").Single()["properties"]!;
        Assert.True((bool?)vault["enableRbacAuthorization"]);
        Assert.True((bool?)vault["enableSoftDelete"]);
        Assert.True((bool?)vault["enablePurgeProtection"]);
        var insights = Template.Value.ResourcesOfType("Microsoft.Insights/components").Single()["properties"]!;
        Assert.True((bool?)insights["DisableLocalAuth"]);
    }

    [Fact]
    public void App_settings_hold_no_keys_and_use_identity_based_storage()
    {
        var text = Template.Value.Text;
        foreach (var forbidden in new[] { "listKeys", "AccountKey=", "SharedAccessSignature", "listSecrets" })
        {
            Assert.DoesNotContain(forbidden, text);
        }
        var names = SettingNames().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("AzureWebJobsStorage__accountName", names);
        Assert.Contains("AzureWebJobsStorage__credential", names);
        Assert.Contains("AzureWebJobsStorage__clientId", names);
        Assert.DoesNotContain("AzureWebJobsStorage", names);
        Assert.Contains("AZURE_CLIENT_ID", names);
        Assert.Contains("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", names);
        Assert.DoesNotContain("FUNCTIONS_WORKER_RUNTIME", names); // Flex rejects it: the runtime is in functionAppConfig
    }

    [Fact]
    public void Every_invoker_setting_infra_writes_is_one_the_library_binds()
    {
        // Names as format strings, e.g. Invoker__Profiles__{0}__Hosts__{1} ({n}: a profile name or an index).
        var written = InvokerSettingNames().Matches(Template.Value.Text).Select(m => m.Value)
            .Where(n => !n.EndsWith("__", StringComparison.Ordinal)).Distinct().ToList();

        // Lists and certificate sources are written under a prefix by settings.bicep (AppSettingsTests evaluates them whole).
        Assert.Contains("Invoker__Profiles__{0}__Hosts", written);
        Assert.Contains("Invoker__Profiles__{0}__ClientCertificate", written);
        Assert.Contains("Invoker__Profiles__{0}__BaseUrl", written);
        Assert.Contains("Invoker__Callers__Mode", written);
        Assert.Contains("Invoker__Callers__TrustForwardedCertificate", written);
        Assert.Contains("Invoker__Callers__Certificates__{0}__Thumbprint", written);
        Assert.All(written, name => Assert.True(Binds(name), $"{name} is not a setting the start-up checks know"));
        Assert.False(Binds("Invoker__Profiles__{0}__ClientCertificat__Source")); // the check itself can fail
    }

    [Fact]
    public void Azure_yaml_is_valid_for_azd_and_deploys_the_functions_project()
    {
        var (exit, output, error) = AzureYaml.Validate(Path.Combine(Tools.RepoRoot, "azure.yaml"));
        Assert.True(exit == 0, error);

        var services = JsonDocument.Parse(output).RootElement.GetProperty("services");
        var service = Assert.Single(services.EnumerateObject()).Value;
        Assert.Equal("function", service.GetProperty("host").GetString());
        Assert.Equal("dotnet", service.GetProperty("language").GetString());
        var project = Path.GetFullPath(Path.Combine(Tools.RepoRoot, service.GetProperty("project").GetString()!));
        Assert.True(File.Exists(Path.Combine(project, "ServiceNodeInvoker.Functions.csproj")), project);

        var broken = Path.Combine(Path.GetTempPath(), $"azure-broken-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(broken, "services:\n  invoker:\n    host: function\n"); // no name: required by the schema
        Assert.NotEqual(0, AzureYaml.Validate(broken).ExitCode);
        File.WriteAllText(broken, "name: x\nrequiredVersions:\n  azd: \">= 1.23.4\"\n  az: \">= 2\"\n"); // no such tool in requiredVersions
        Assert.NotEqual(0, AzureYaml.Validate(broken).ExitCode);
        File.Delete(broken);
    }

    /// <summary>The name, with its placeholders filled in, passes the start-up name check (ConfigurationSchema).</summary>
    private static bool Binds(string name)
    {
        var key = name.Replace("{0}", "p", StringComparison.Ordinal).Replace("{1}", "0", StringComparison.Ordinal).Replace("__", ":", StringComparison.Ordinal);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = "" }).Build();
        return !ConfigurationSchema.Check(configuration.GetSection(InvokerOptions.SectionName), typeof(InvokerOptions))
            .Any(p => p.Contains("unknown setting", StringComparison.Ordinal) || p.Contains("single value", StringComparison.Ordinal));
    }

    private static string CopyInfra()
    {
        var target = Directory.CreateTempSubdirectory("sni-infra-").FullName;
        foreach (var file in Directory.GetFiles(Tools.InfraDirectory, "*.*", SearchOption.AllDirectories))
        {
            if (file.Contains("node_modules", StringComparison.Ordinal))
            {
                continue;
            }
            var destination = Path.Combine(target, Path.GetRelativePath(Tools.InfraDirectory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
        return target;
    }

    [GeneratedRegex("\"name\":\\s*\"([A-Za-z_][A-Za-z0-9_]*)\",\\s*\"value\"")]
    private static partial Regex SettingNames();

    [GeneratedRegex(@"Invoker__[A-Za-z0-9_{}]+")]
    private static partial Regex InvokerSettingNames();
}
