using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>
/// The ARM JSON that `bicep build` makes of infra/main.bicep, with helpers that look through nested
/// module deployments. Checks return lists of problems so a test can also show they catch mistakes.
/// </summary>
public sealed partial class CompiledTemplate(JsonObject root)
{
    public JsonObject Root => root;

    // Relaxed escaping keeps ARM expressions readable ('…' instead of \u0027…\u0027) for the checks below.
    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Text => root.ToJsonString(Readable);

    /// <summary>Builds <paramref name="mainBicep"/>; diagnostics (any warning or error) are returned, not thrown.</summary>
    public static (CompiledTemplate? Template, IReadOnlyList<string> Diagnostics) Build(string mainBicep)
    {
        var (exit, output, error) = Tools.Run(Tools.Bicep, $"build \"{mainBicep}\" --stdout", Path.GetDirectoryName(mainBicep));
        var diagnostics = Diagnostics(error).ToList();
        if (exit != 0 && diagnostics.Count == 0)
        {
            diagnostics.Add($"bicep build exited {exit}");
        }
        return (exit == 0 ? new CompiledTemplate(JsonNode.Parse(output)!.AsObject()) : null, diagnostics);
    }

    public static IEnumerable<string> Diagnostics(string cliOutput) =>
        cliOutput.Split('\n').Where(l => l.Contains(": Warning ", StringComparison.Ordinal) || l.Contains(": Error ", StringComparison.Ordinal));

    /// <summary>Every resource in this template and in nested deployments, with the variables of the template it sits in.</summary>
    public IEnumerable<(JsonObject Resource, JsonObject Variables)> Resources() => Walk(root);

    public IEnumerable<JsonObject> ResourcesOfType(string type) =>
        Resources().Where(r => (string?)r.Resource["type"] == type).Select(r => r.Resource);

    private static IEnumerable<(JsonObject, JsonObject)> Walk(JsonObject template)
    {
        var variables = template["variables"] as JsonObject ?? [];
        IEnumerable<JsonNode?> resources = template["resources"] switch
        {
            JsonArray array => array,
            JsonObject symbolic => symbolic.Select(p => p.Value),
            _ => [],
        };
        foreach (var resource in resources.OfType<JsonObject>())
        {
            yield return (resource, variables);
            if (resource["properties"]?["template"] is JsonObject nested)
            {
                foreach (var inner in Walk(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>A resource's JSON with <c>variables('x')</c> replaced by the variables' values, so literals inside them can be checked.</summary>
    public static string Resolve(JsonObject resource, JsonObject variables)
    {
        var text = resource.ToJsonString(Readable);
        return VariableReference().Replace(text, m =>
            variables[m.Groups[1].Value] is JsonValue v && v.TryGetValue<string>(out var s) ? s : m.Value);
    }

    /// <summary>Checks that exactly the expected roles are granted, each on the expected resource type.</summary>
    public IReadOnlyList<string> RoleProblems(IReadOnlyDictionary<string, string> expectedRoleScopes)
    {
        var problems = new List<string>();
        var granted = new Dictionary<string, string>();
        foreach (var (resource, variables) in Resources().Where(r => (string?)r.Resource["type"] == "Microsoft.Authorization/roleAssignments"))
        {
            var text = Resolve(resource, variables);
            var ids = Guid().Matches(text).Select(m => m.Value.ToLowerInvariant()).Where(expectedRoleScopes.ContainsKey).Distinct().ToList();
            var scope = (string?)resource["scope"] ?? "(resource group)";
            if (ids.Count == 0)
            {
                problems.Add($"role assignment with an unexpected role definition: {text}");
            }
            foreach (var id in ids)
            {
                granted[id] = scope;
            }
        }
        foreach (var (role, scopeType) in expectedRoleScopes)
        {
            if (!granted.TryGetValue(role, out var scope))
            {
                problems.Add($"role {role} is never assigned");
            }
            else if (!scope.Contains(scopeType, StringComparison.Ordinal))
            {
                problems.Add($"role {role} is assigned on {scope}, expected a {scopeType}");
            }
        }
        return problems;
    }

    [GeneratedRegex(@"variables\('([A-Za-z0-9_]+)'\)")]
    private static partial Regex VariableReference();

    [GeneratedRegex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial Regex Guid();
}
