using System.Reflection;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Tests.Architecture;

/// <summary>Log event ids are unique across the library and the standalone host, and each one is in operations.md's table.</summary>
[Trait("Tier", "Fast")]
public sealed class EventIdTests
{
    private static readonly Assembly[] Assemblies =
        [typeof(ServiceCollectionExtensions).Assembly, typeof(ServiceNodeInvoker.Standalone.StandaloneApp).Assembly];

    private static IEnumerable<(int Id, string Method)> Declared() =>
        from assembly in Assemblies
        from type in assembly.GetTypes()
        from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
        where attribute is not null
        select (attribute.EventId, $"{type.FullName}.{method.Name}");

    [Fact]
    public void Every_event_id_is_used_once()
    {
        var declared = Declared().ToList();
        Assert.True(declared.Count >= 10, $"only {declared.Count} log methods found: the scan is broken");
        var twice = declared.GroupBy(d => d.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(d => d.Method))}").ToList();
        Assert.True(twice.Count == 0, "Event ids used twice: " + string.Join("; ", twice));
    }

    [Fact]
    public void Every_event_id_is_documented_and_every_documented_one_exists()
    {
        var text = File.ReadAllText(Path.Combine(Tools.RepoRoot, "docs", "operations.md"));
        var documented = Regex.Matches(text, @"^\| (\d{4}) \|", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value)).ToHashSet();
        var declared = Declared().Select(d => d.Id).ToHashSet();
        Assert.Empty(declared.Except(documented));
        Assert.Empty(documented.Except(declared));
    }
}
