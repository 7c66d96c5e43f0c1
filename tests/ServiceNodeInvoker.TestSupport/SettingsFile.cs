using System.Text.Json.Nodes;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// A host's appsettings.json written from flat settings (<c>Invoker:Profiles:payments:Hosts:0</c>) the way an operator
/// saves it with an editor that replaces the file: written beside it, then moved over it in one step.
/// </summary>
public static class SettingsFile
{
    public const string Name = "appsettings.json";

    /// <summary>Writes <paramref name="settings"/> as nested JSON (keys 0, 1, … become arrays) to appsettings.json in <paramref name="directory"/>.</summary>
    public static void Write(string directory, IReadOnlyDictionary<string, string?> settings) => WriteText(directory, Json(settings));

    /// <summary>The JSON <see cref="Write"/> would write.</summary>
    public static string Json(IReadOnlyDictionary<string, string?> settings)
    {
        var root = new JsonObject();
        foreach (var (key, value) in settings.Where(s => s.Value is not null).OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var parts = key.Split(':');
            var node = root;
            foreach (var part in parts[..^1])
            {
                node = node[part] as JsonObject ?? (JsonObject)(node[part] = new JsonObject());
            }
            node[parts[^1]] = value;
        }
        return Arrays(root)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <paramref name="text"/> as appsettings.json, as it is (a broken file included).</summary>
    public static void WriteText(string directory, string text)
    {
        var path = Path.Combine(directory, Name);
        var temporary = Path.Combine(directory, $".{Name}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Objects whose keys are exactly 0..n-1 become arrays, as configuration reads them.</summary>
    private static JsonNode? Arrays(JsonNode? node)
    {
        if (node is not JsonObject obj)
        {
            return node?.DeepClone();
        }
        var keys = obj.Select(p => p.Key).ToList();
        if (keys.Count > 0 && keys.All(k => int.TryParse(k, out _)) && keys.Select(int.Parse).Order().SequenceEqual(Enumerable.Range(0, keys.Count)))
        {
            return new JsonArray(keys.OrderBy(int.Parse).Select(k => Arrays(obj[k])).ToArray());
        }
        var copy = new JsonObject();
        foreach (var (key, value) in obj)
        {
            copy[key] = Arrays(value);
        }
        return copy;
    }
}
