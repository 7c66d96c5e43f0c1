using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>
/// What `azd up` does with this template that Bicep's own checks cannot see: the azd release the parameters file needs,
/// the Key Vault private DNS zone in each cloud, who gets data access to the vault, and what the failure alerts say.
/// Functions of the template are evaluated by the Bicep CLI itself (build-params), not re-implemented here.
/// </summary>
public sealed partial class DeploymentChoicesTests
{
    /// <summary>The first azd release that parses a JSON value mapped into an array or object parameter (Azure/azure-dev#6694).</summary>
    private static readonly Version FirstAzdPassingJsonThrough = new(1, 23, 4);

    private static readonly Lazy<CompiledTemplate> Template = new(() =>
    {
        var (template, diagnostics) = CompiledTemplate.Build(Path.Combine(Tools.InfraDirectory, "main.bicep"));
        Assert.True(diagnostics.Count == 0, string.Join('\n', diagnostics));
        return template!;
    });

    private static JsonObject ParametersFile =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Tools.InfraDirectory, "main.parameters.json")))!["parameters"]!.AsObject();

    /// <summary>
    /// Problems between the parameters file and azure.yaml's azd range: every array or object parameter mapped from an
    /// environment variable needs an azd that parses the value as JSON, and its default must be JSON of that kind.
    /// </summary>
    private static List<string> AzdVersionProblems(JsonObject parametersFile, JsonObject templateParameters, string? requiredAzd)
    {
        var problems = new List<string>();
        var mapped = new List<string>();
        foreach (var (name, entry) in parametersFile)
        {
            var type = (string?)templateParameters[name]?["type"];
            if (type is not ("array" or "object") || entry?["value"] is not JsonValue value || !value.TryGetValue<string>(out var text) || !text.Contains("${", StringComparison.Ordinal))
            {
                continue;
            }
            mapped.Add(name);
            var fallback = Reference().Match(text);
            if (!fallback.Success || !fallback.Groups[2].Success)
            {
                problems.Add($"{name}: '{text}' has no default, so azd would prompt or omit it");
                continue;
            }
            try
            {
                var parsed = JsonNode.Parse(fallback.Groups[2].Value);
                if ((type == "array") != parsed is JsonArray || (type == "object") != parsed is JsonObject)
                {
                    problems.Add($"{name}: the default '{fallback.Groups[2].Value}' is not a JSON {type}");
                }
            }
            catch (JsonException)
            {
                problems.Add($"{name}: the default '{fallback.Groups[2].Value}' is not JSON: azd would fail on it");
            }
        }
        if (mapped.Count == 0)
        {
            return problems;
        }
        var lower = requiredAzd is null ? null : LowerBound().Match(requiredAzd);
        if (lower is null || !lower.Success || !Version.TryParse(lower.Groups[1].Value, out var minimum))
        {
            problems.Add($"azure.yaml's requiredVersions.azd ('{requiredAzd}') has no lower bound, but {string.Join(", ", mapped)} take JSON values " +
                         $"from the environment: azd before {FirstAzdPassingJsonThrough} passes them as strings and `azd up` fails");
        }
        else if (minimum < FirstAzdPassingJsonThrough)
        {
            problems.Add($"azure.yaml admits azd {minimum}, but {string.Join(", ", mapped)} need azd {FirstAzdPassingJsonThrough} or later");
        }
        return problems;
    }

    [Fact]
    public void Azure_yaml_requires_the_first_azd_that_passes_json_parameters_through_and_the_parameters_file_agrees()
    {
        var required = AzureYaml.Read(Path.Combine(Tools.RepoRoot, "azure.yaml"))["requiredVersions"]?["azd"]?.GetValue<string>();
        var parameters = Template.Value.Root["parameters"]!.AsObject();

        Assert.Equal(">= 1.23.4", required); // a range azd itself parses (blang/semver), at exactly the first such release
        Assert.Empty(AzdVersionProblems(ParametersFile, parameters, required));
        Assert.Equal("${TLS_PROFILES=[]}", (string?)ParametersFile["tlsProfiles"]!["value"]);

        // The check fails where a user would: no range, one that admits an older azd, a default azd cannot parse.
        Assert.Contains(AzdVersionProblems(ParametersFile, parameters, null), p => p.Contains("TLS_PROFILES", StringComparison.Ordinal) || p.Contains("tlsProfiles", StringComparison.Ordinal));
        Assert.Contains(AzdVersionProblems(ParametersFile, parameters, ">= 1.23.3"), p => p.Contains("admits azd 1.23.3", StringComparison.Ordinal));
        var broken = ParametersFile.DeepClone().AsObject();
        broken["callerGrants"]!["value"] = "${CALLER_GRANTS={}}";
        Assert.Contains(AzdVersionProblems(broken, parameters, required), p => p.StartsWith("callerGrants", StringComparison.Ordinal));
        // Without JSON-valued parameters no azd range is needed: the check follows the parameters file.
        var scalarOnly = new JsonObject { ["enableVnet"] = new JsonObject { ["value"] = "${ENABLE_VNET=false}" } };
        Assert.Empty(AzdVersionProblems(scalarOnly, parameters, null));
    }

    [Fact]
    public void The_key_vault_private_dns_zone_is_the_one_of_the_cloud_deployed_to()
    {
        var zones = Evaluate("import { keyVaultPrivateDnsZone } from 'modules/keyvault.bicep'",
            "keyVaultPrivateDnsZone('.vault.azure.net')", "keyVaultPrivateDnsZone('.vault.usgovcloudapi.net')", "keyVaultPrivateDnsZone('.vault.azure.cn')");
        Assert.Equal(["privatelink.vaultcore.azure.net", "privatelink.vaultcore.usgovcloudapi.net", "privatelink.vaultcore.azure.cn"],
            zones.Select(z => (string?)z));

        var endpoint = Template.Value.ResourcesOfType("Microsoft.Resources/deployments").Single(d => (string?)d["name"] == "pe-keyvault");
        Assert.Equal("[__bicep.keyVaultPrivateDnsZone(environment().suffixes.keyvaultDns)]", (string?)endpoint["properties"]!["parameters"]!["dnsZoneName"]!["value"]);
        Assert.DoesNotContain("privatelink.vaultcore.azure.net", Template.Value.Text);
    }

    [Fact]
    public void Deployer_data_roles_go_to_a_person_by_default_and_to_a_pipeline_only_when_asked()
    {
        var cases = new (string PrincipalId, string Type, string Mode, bool Expected)[]
        {
            ("11111111-1111-1111-1111-111111111111", "User", "UserOnly", true),
            ("11111111-1111-1111-1111-111111111111", "ServicePrincipal", "UserOnly", false), // a pipeline: no data access by default
            ("11111111-1111-1111-1111-111111111111", "", "UserOnly", false),                 // type unknown: not assumed to be a person
            ("11111111-1111-1111-1111-111111111111", "ServicePrincipal", "Always", true),
            ("11111111-1111-1111-1111-111111111111", "User", "Never", false),
            ("", "User", "Always", false),
        };
        var results = Evaluate("import { deployerGetsDataRoles } from 'modules/keyvault.bicep'",
            cases.Select(c => $"deployerGetsDataRoles('{c.PrincipalId}', '{c.Type}', '{c.Mode}')").ToArray());
        Assert.Equal(cases.Select(c => c.Expected), results.Select(r => (bool)r!));

        var parameter = Template.Value.Root["parameters"]!["deployerKeyVaultRoles"]!;
        Assert.Equal("UserOnly", (string?)parameter["defaultValue"]);
        Assert.Equal(["UserOnly", "Always", "Never"], parameter["allowedValues"]!.AsArray().Select(v => (string?)v));
        var deployer = Template.Value.Resources().Where(r => (string?)r.Resource["type"] == "Microsoft.Authorization/roleAssignments")
            .Select(r => CompiledTemplate.Resolve(r.Resource, r.Variables))
            .Single(t => t.Contains("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", StringComparison.Ordinal)); // Secrets Officer
        Assert.Contains("__bicep.deployerGetsDataRoles(parameters('principalId'), parameters('principalType'), parameters('deployerKeyVaultRoles'))", deployer);
        Assert.Contains("a4417e6f-fecd-4de8-b567-7b0420556985", deployer); // Certificates Officer, in the same assignment loop
    }

    [Fact]
    public void Failure_alerts_use_a_ga_api_and_name_the_profile_and_reason_that_fired_them()
    {
        var (rule, variables) = Template.Value.Resources().Single(r => (string?)r.Resource["type"] == "Microsoft.Insights/scheduledQueryRules");
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}$", (string?)rule["apiVersion"]); // no -preview
        var criterion = rule["properties"]!["criteria"]!["allOf"]![0]!;
        Assert.Contains(".dimensions", (string?)criterion["dimensions"]);
        Assert.Contains("'Include'", (string?)criterion["dimensions"]);

        var queries = variables["failureQueries"]!.AsArray();
        var dimensions = queries.ToDictionary(q => (string)q!["name"]!, q => q!["dimensions"]!.AsArray().Select(d => (string)d!).ToList());
        Assert.Equal(["profile", "reason"], dimensions["handshake-failures"]);
        Assert.Equal(["profile"], dimensions["certificate-unavailable"]); // the invocation metric has no reason: health says why
        Assert.Equal(["profile", "role", "subject", "status"], dimensions["certificate-expiry"]);
        Assert.Empty(dimensions["expiry-watch-missing"]); // one watch per app: nothing to split by
        foreach (var query in queries)
        {
            // The measured column is one the query computes, or the rule is rejected at deployment.
            Assert.Matches($@"\b{(string)query!["column"]!}\s*=", (string)query["query"]!);
            if (dimensions[(string)query["name"]!].Count == 0)
            {
                continue;
            }
            // A dimension must be a column the query returns, or the rule is rejected at deployment.
            var by = SummarizeBy().Match((string)query!["query"]!);
            Assert.True(by.Success, (string?)query["query"]);
            var columns = by.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries);
            Assert.All(dimensions[(string)query["name"]!], d => Assert.Contains(d, columns));
        }
    }

    /// <summary>Values of Bicep expressions over the infra files, computed by the Bicep CLI (build-params).</summary>
    private static JsonArray Evaluate(string import, params string[] expressions)
    {
        var folder = Directory.CreateTempSubdirectory("sni-evaluate-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(Tools.InfraDirectory, "*.bicep", SearchOption.AllDirectories))
            {
                var destination = Path.Combine(folder, Path.GetRelativePath(Tools.InfraDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }
            File.Copy(Path.Combine(Tools.InfraDirectory, "bicepconfig.json"), Path.Combine(folder, "bicepconfig.json"));
            File.WriteAllText(Path.Combine(folder, "probe.bicep"), "param values array\noutput count int = length(values)\n");
            File.WriteAllText(Path.Combine(folder, "probe.bicepparam"), $"using 'probe.bicep'\n{import}\nparam values = [\n  {string.Join("\n  ", expressions)}\n]\n");
            var (exit, output, error) = Tools.Run(Tools.Bicep, "build-params probe.bicepparam --stdout", folder);
            Assert.True(exit == 0, $"bicep build-params failed: {error}");
            var parameters = JsonNode.Parse((string)JsonNode.Parse(output)!["parametersJson"]!)!;
            return parameters["parameters"]!["values"]!["value"]!.AsArray();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@"^\$\{([A-Z0-9_]+)(?:=(.*))?\}$")]
    private static partial Regex Reference();

    [GeneratedRegex(@">=\s*(\d+\.\d+\.\d+)")]
    private static partial Regex LowerBound();

    [GeneratedRegex(@"summarize\s+.*?\s+by\s+([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*$")]
    private static partial Regex SummarizeBy();
}

/// <summary>azure.yaml as azd's own schema validates it (infra/checks, offline): the parsed document's parts the schema leaves free.</summary>
public static class AzureYaml
{
    private static readonly Lazy<string> Checks = new(() =>
    {
        var checks = Path.Combine(Tools.InfraDirectory, "checks");
        if (!Directory.Exists(Path.Combine(checks, "node_modules")))
        {
            var install = Tools.Run("npm", "ci --no-audit --no-fund", checks, timeoutSeconds: 300);
            Assert.True(install.ExitCode == 0, install.Error);
        }
        return checks;
    });

    public static string Schema => Path.Combine(Tools.Schemas, "azure.yaml.json");

    /// <summary>Runs the validator: exit code, and its output (the services and requiredVersions as JSON) or errors.</summary>
    public static (int ExitCode, string Output, string Error) Validate(string path) =>
        Tools.Run("node", $"validate-azure-yaml.mjs \"{path}\" \"{Schema}\"", Checks.Value);

    public static JsonObject Read(string path)
    {
        var (exit, output, error) = Validate(path);
        Assert.True(exit == 0, error);
        return JsonNode.Parse(output)!.AsObject();
    }
}
