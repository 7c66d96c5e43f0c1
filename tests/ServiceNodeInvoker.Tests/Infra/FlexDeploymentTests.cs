using System.Text.Json.Nodes;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>What would stop or hurt a real `azd up` on Flex Consumption, asserted on the compiled template.</summary>
public sealed class FlexDeploymentTests
{
    private static readonly Lazy<CompiledTemplate> Template = new(() =>
    {
        var (template, diagnostics) = CompiledTemplate.Build(Path.Combine(Tools.InfraDirectory, "main.bicep"));
        Assert.True(diagnostics.Count == 0, string.Join('\n', diagnostics));
        return template!;
    });

    private static JsonNode Site => Template.Value.ResourcesOfType("Microsoft.Web/sites").Single()["properties"]!;

    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Text(JsonNode? node) => node?.ToJsonString(Readable) ?? "null";

    [Fact]
    public void Http2_is_on_only_when_callers_use_keys_only()
    {
        // App Service asks for client certificates on HTTP/1.1 only: with HTTP/2 caller certificates would silently not arrive.
        Assert.Equal("[equals(parameters('callerCertificateMode'), 'KeyOnly')]", (string?)Site["siteConfig"]!["http20Enabled"]);
    }

    [Fact]
    public void The_deployer_gets_what_the_documented_steps_need_and_the_app_only_what_it_uses()
    {
        var assignments = Template.Value.ResourcesOfType("Microsoft.Authorization/roleAssignments").Select(Text).ToList();
        var all = string.Join('\n', Template.Value.Resources().Where(r => (string?)r.Resource["type"] == "Microsoft.Authorization/roleAssignments")
            .Select(r => CompiledTemplate.Resolve(r.Resource, r.Variables)));
        Assert.Contains("a4417e6f-fecd-4de8-b567-7b0420556985", all); // Certificates Officer: az keyvault certificate import
        Assert.Contains("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", all); // Secrets Officer: az keyvault secret set (CA PEMs), local reads
        Assert.Contains("db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", all); // Certificate User: the app reads certificate metadata at each refresh
        Assert.DoesNotContain("974c5e8b-45b9-4653-ba55-5f855dd0fb88", all); // Queue Data Contributor: no queues in an HTTP-only app
        Assert.DoesNotContain("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", all); // Table Data Contributor
        Assert.NotEmpty(assignments);
    }

    [Fact]
    public void A_pipeline_principal_type_is_never_forced_to_user()
    {
        var parameter = Template.Value.Root["parameters"]!["principalType"]!;
        Assert.Equal("", (string?)parameter["defaultValue"]);
        var deployer = Template.Value.Resources().Where(r => (string?)r.Resource["type"] == "Microsoft.Authorization/roleAssignments")
            .Select(r => CompiledTemplate.Resolve(r.Resource, r.Variables))
            .Single(t => t.Contains("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", StringComparison.Ordinal));
        Assert.Contains("if(empty(parameters('principalType')), null(), parameters('principalType'))", deployer);
    }

    [Fact]
    public void Every_scalar_parameter_maps_from_an_azd_environment_variable_with_the_template_default()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(Tools.InfraDirectory, "main.parameters.json")))!["parameters"]!.AsObject();
        var parameters = Template.Value.Root["parameters"]!.AsObject();
        foreach (var (name, definition) in parameters)
        {
            var type = (string?)definition!["type"];
            if (type is "array" or "object")
            {
                continue; // structured (tlsProfiles, callerCertificates, callerGrants): JSON values, DeploymentChoicesTests checks them against azd
            }
            Assert.True(file.ContainsKey(name), $"{name} has no entry in main.parameters.json: azd env set would do nothing");
            var value = (string?)file[name]!["value"];
            var match = System.Text.RegularExpressions.Regex.Match(value ?? "", @"^\$\{([A-Z0-9_]+)(?:=(.*))?\}$");
            Assert.True(match.Success, $"{name}: '{value}' is not an azd ${{VAR=default}} reference");
            if (definition!["defaultValue"] is { } fallback)
            {
                var expected = fallback.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)fallback : fallback.ToJsonString();
                if (expected != "")
                {
                    Assert.True(match.Groups[2].Success, $"{name}: the template has a default ({expected}), the mapping none");
                }
                Assert.Equal(expected, match.Groups[2].Value);
            }
        }
        Assert.Equal("${ENABLE_VNET=false}", (string?)file["enableVnet"]!["value"]);
        Assert.Equal("${AZURE_PRINCIPAL_TYPE=}", (string?)file["principalType"]!["value"]);
    }

    [Fact]
    public void In_vnet_mode_listed_ip_ranges_can_still_reach_the_vault_to_import_certificates()
    {
        var vault = Template.Value.ResourcesOfType("Microsoft.KeyVault/vaults").Single()["properties"]!;
        Assert.Equal("[if(and(parameters('enableVnet'), empty(parameters('allowedIpRanges'))), 'Disabled', 'Enabled')]", (string?)vault["publicNetworkAccess"]);
        Assert.Equal("[if(parameters('enableVnet'), 'Deny', 'Allow')]", (string?)vault["networkAcls"]!["defaultAction"]);
        Assert.Contains("parameters('allowedIpRanges')", (string?)vault["networkAcls"]!["ipRules"]);
        Assert.Contains("split(parameters('keyVaultAllowedIpRanges'), ',')", Template.Value.Text);
    }

    [Fact]
    public void Only_blob_gets_a_private_endpoint()
    {
        var storage = Template.Value.Text;
        Assert.Contains("createArray('blob')", storage);
        Assert.DoesNotContain("'queue'", storage);
        Assert.DoesNotContain("'table'", storage);
    }

    [Fact]
    public void Vnet_mode_leaves_through_a_nat_gateway_with_one_static_outbound_address()
    {
        // Outbound is explicit: new VNets have no default outbound access, so VNet mode always has its NAT gateway.
        var ip = Template.Value.ResourcesOfType("Microsoft.Network/publicIPAddresses").Single();
        Assert.Equal("Static", (string?)ip["properties"]!["publicIPAllocationMethod"]);
        Assert.Equal("Standard", (string?)ip["sku"]!["name"]);
        Assert.Null(ip["condition"]);
        var nat = Template.Value.ResourcesOfType("Microsoft.Network/natGateways").Single();
        Assert.Contains("publicIPAddresses", Text(nat["properties"]!["publicIpAddresses"]));
        var vnet = Template.Value.ResourcesOfType("Microsoft.Network/virtualNetworks").Single();
        var subnets = vnet["properties"]!["subnets"]!.AsArray();
        Assert.Contains("natGateways", Text(subnets[0]!["properties"]!["natGateway"]));
        Assert.All(subnets, subnet => Assert.False((bool)subnet!["properties"]!["defaultOutboundAccess"]!));
        Assert.NotNull(Template.Value.Root["outputs"]!["OUTBOUND_IP_ADDRESS"]);
        Assert.Null(Template.Value.Root["parameters"]!["enableNatGateway"]);
    }

    [Fact]
    public void Certificate_expiry_alerts_come_from_key_vault_itself_and_failures_from_telemetry()
    {
        var group = Template.Value.ResourcesOfType("Microsoft.Insights/actionGroups").Single();
        Assert.Contains("parameters('alertEmail')", Text(group["properties"]!["emailReceivers"]));
        var topic = Template.Value.ResourcesOfType("Microsoft.EventGrid/systemTopics").Single();
        Assert.Equal("Microsoft.KeyVault.vaults", (string?)topic["properties"]!["topicType"]);
        var subscription = Template.Value.ResourcesOfType("Microsoft.EventGrid/systemTopics/eventSubscriptions").Single()["properties"]!;
        Assert.Equal(["Microsoft.KeyVault.CertificateNearExpiry", "Microsoft.KeyVault.CertificateExpired",
                "Microsoft.KeyVault.SecretNearExpiry", "Microsoft.KeyVault.SecretExpired"], // CA roots kept as PEM secrets
            subscription["filter"]!["includedEventTypes"]!.AsArray().Select(e => (string?)e));
        Assert.Contains("Microsoft.EventGrid/systemTopics/eventSubscriptions", Template.Value.Text);
        Assert.DoesNotContain("preview", (string?)Template.Value.ResourcesOfType("Microsoft.EventGrid/systemTopics").Single()["apiVersion"]);
        var rule = Template.Value.ResourcesOfType("Microsoft.Insights/scheduledQueryRules").Single()["properties"]!;
        Assert.Contains(".frequency", (string?)rule["evaluationFrequency"]);
        Assert.Contains(".window", (string?)rule["windowSize"]);
        Assert.True((bool)rule["autoMitigate"]!); // stateful: one notification when it fires, one when it resolves
        var schedules = Template.Value.Resources().Single(r => (string?)r.Resource["type"] == "Microsoft.Insights/scheduledQueryRules").Variables["failureQueries"]!
            .AsArray().ToDictionary(q => (string)q!["name"]!, q => ((string)q!["frequency"]!, (string)q["window"]!));
        // Failures in traffic: every 5 minutes, a window longer than that so late rows still land in one.
        Assert.Equal(("PT5M", "PT15M"), schedules["handshake-failures"]);
        Assert.Equal(("PT5M", "PT15M"), schedules["certificate-unavailable"]);
        // The daily watch: its latest run's state over two days of runs (a 15-minute window fired once a run and resolved
        // itself every day), and its own absence.
        Assert.Equal(("PT1H", "P2D"), schedules["certificate-expiry"]);
        Assert.Equal(("PT1H", "P2D"), schedules["expiry-watch-missing"]);
        Assert.Equal("MonitorAlert", (string?)subscription["destination"]!["endpointType"]); // alerts without the app running
        var rules = Template.Value.Text;
        Assert.Contains("invoker.tls.handshake_failures", rules);
        Assert.Contains("certificate-unavailable", rules);
        Assert.Single(Template.Value.ResourcesOfType("Microsoft.Insights/scheduledQueryRules"));
        var diagnostics = Template.Value.ResourcesOfType("Microsoft.Insights/diagnosticSettings").Single();
        Assert.Contains("AuditEvent", Text(diagnostics["properties"]!["logs"]));
        var alertsModule = Template.Value.ResourcesOfType("Microsoft.Resources/deployments").Single(d => (string?)d["name"] == "alerts");
        Assert.Equal("[not(empty(parameters('alertEmail')))]", (string?)alertsModule["condition"]);
    }

    [Fact]
    public void Azd_offers_every_region_and_leaves_flex_availability_to_azure()
    {
        // A hard-coded list goes stale as Flex reaches new regions: azd offers every location, and the
        // parameter's description says how to list the Flex ones.
        var location = Template.Value.Root["parameters"]!["location"]!;
        Assert.Equal("location", (string?)location["metadata"]!["azd"]!["type"]);
        Assert.Null(location["allowedValues"]);
        Assert.Contains("list-flexconsumption-locations", (string?)location["metadata"]!["description"]);
    }

    [Fact]
    public void Caller_certificates_are_asked_for_in_the_handshake_and_a_mode_without_callers_fails_at_provision()
    {
        var app = Template.Value.ResourcesOfType("Microsoft.Web/sites").Single();
        Assert.Null(app["properties"]!["clientCertExclusionPaths"]); // exclusion paths make App Service renegotiate
        Assert.Null(Template.Value.Root["parameters"]!["clientCertExclusionPaths"]);
        Assert.Contains("needs at least one entry in callerCertificates", Template.Value.Text);
        Assert.Contains("fail(", Template.Value.Text);
    }

    [Fact]
    public void Always_ready_instances_and_zone_redundancy_are_options_and_the_identity_output_is_not_azure_client_id()
    {
        var app = Template.Value.ResourcesOfType("Microsoft.Web/sites").Single();
        Assert.Contains("alwaysReadyInstances", Text(app["properties"]!["functionAppConfig"]!["scaleAndConcurrency"]!["alwaysReady"]));
        var plan = Template.Value.ResourcesOfType("Microsoft.Web/serverfarms").Single();
        Assert.Contains("zoneRedundant", Text(plan["properties"]!["zoneRedundant"]));
        var outputs = Template.Value.Root["outputs"]!.AsObject();
        Assert.False(outputs.ContainsKey("AZURE_CLIENT_ID")); // azd's .env would make it the developer's client id
        Assert.True(outputs.ContainsKey("INVOKER_IDENTITY_CLIENT_ID"));
    }
}
