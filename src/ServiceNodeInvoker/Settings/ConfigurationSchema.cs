using ServiceNodeInvoker.Primitives;
using System.Collections;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace ServiceNodeInvoker.Settings;

/// <summary>
/// Checks the raw <c>Invoker</c> section against the options types before anything is bound: every
/// name must be a known setting (with a "did you mean" when one is close), every value must convert
/// to its setting's type, and numbers must be in range. The binder itself drops a dictionary entry it
/// cannot convert without a word (a whole profile, for one mistyped value), so it never sees such input.
/// </summary>
internal static class ConfigurationSchema
{
    /// <summary>Every problem in the section, each prefixed with its full setting path.</summary>
    public static List<string> Check(IConfigurationSection section, Type type) => Check(section, type, out _);

    /// <param name="faulty">The paths of the settings at fault, so the rest can still be checked for meaning.</param>
    public static List<string> Check(IConfigurationSection section, Type type, out HashSet<string> faulty)
    {
        var problems = new Problems();
        CheckNode(section, type, null, problems);
        faulty = problems.Paths;
        return problems;
    }

    /// <summary>Problem lines, and the setting paths they are about.</summary>
    private sealed class Problems : List<string>
    {
        public HashSet<string> Paths { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Add(IConfigurationSection at, string line)
        {
            Paths.Add(at.Path);
            Add(line);
        }
    }

    private static void CheckNode(IConfigurationSection node, Type type, SettingAttribute? setting, Problems problems)
    {
        var children = node.GetChildren().ToList();
        if (IsLeaf(type))
        {
            if (children.Count > 0)
            {
                problems.Add(node, $"{node.Path}: is a single value, but settings were found under it ({children[0].Path}).");
                return;
            }
            if (node.Value is { } value && ConvertProblem(value, type, setting) is { } problem)
            {
                problems.Add(node, $"{node.Path}: {problem}");
            }
            return;
        }
        if (!string.IsNullOrEmpty(node.Value))
        {
            // Never quoted: a section (a certificate source, a token source, the API keys) is exactly where a password,
            // a key or a secret gets pasted by mistake.
            var password = type.GetProperty("Password") is not null ? $" A PFX password goes in {node.Path}:Password." : "";
            if (children.Count == 0)
            {
                problems.Add(node, $"{node.Path}: is a section of settings, not a single value (a value of {node.Value.Length} characters was given; " +
                    $"not shown, as it may be a secret). Set its keys instead: {SectionKeys(node.Path, type)}.{password}");
                return;
            }
            // Its keys are there and are checked as usual (so the section still counts); only the stray value is refused.
            problems.Add($"{node.Path}: has its keys and also a value of its own ({node.Value.Length} characters, not shown, as it may be a secret): " +
                $"remove the value.{password}");
        }
        if (DictionaryValueType(type) is { } valueType)
        {
            foreach (var child in children)
            {
                CheckNode(child, valueType, null, problems);
            }
            return;
        }
        if (ListItemType(type) is { } itemType)
        {
            foreach (var child in children)
            {
                if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    problems.Add(child, $"{child.Path}: '{child.Key}' is not a list index: list entries are numbered ({node.Path}:0, {node.Path}:1, …).");
                    continue;
                }
                CheckNode(child, itemType, null, problems);
            }
            return;
        }
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
        foreach (var child in children)
        {
            var property = properties.FirstOrDefault(p => p.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                var suggestion = Closest(child.Key, properties.Select(p => p.Name));
                problems.Add(child, suggestion is null
                    ? $"{child.Path}: unknown setting (known here: {string.Join(", ", properties.Select(p => p.Name))})."
                    : $"{child.Path}: unknown setting; did you mean '{suggestion}'?");
                continue;
            }
            CheckNode(child, property.PropertyType, property.GetCustomAttribute<SettingAttribute>(), problems);
        }
    }

    private static bool IsLeaf(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(Uri) || t == typeof(decimal);
    }

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) ? type.GetGenericArguments()[1] : null;

    private static Type? ListItemType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0] : null;

    /// <summary>Why a value does not convert (null: it does). Values are quoted only for non-secret types.</summary>
    private static string? ConvertProblem(string value, Type type, SettingAttribute? setting)
    {
        var nullable = Nullable.GetUnderlyingType(type) is not null;
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string))
        {
            return null;
        }
        var text = value.Trim();
        if (text.Length == 0)
        {
            // An empty app setting means "not set": the default applies.
            return null;
        }
        if (t == typeof(bool))
        {
            return bool.TryParse(text, out _) ? null : $"'{Shorten(value)}' is not true or false.";
        }
        if (t.IsEnum)
        {
            var names = Enum.GetNames(t);
            if (names.Any(n => n.Equals(text, StringComparison.OrdinalIgnoreCase)))
            {
                return null;
            }
            var close = Closest(text, names);
            return $"'{Shorten(value)}' is not one of {string.Join(", ", names)}" + (close is null ? "." : $"; did you mean '{close}'?");
        }
        if (t == typeof(Uri))
        {
            return Uri.TryCreate(text, UriKind.Absolute, out _) ? null : $"'{Shorten(value)}' is not an absolute URI.";
        }
        if (t == typeof(int) || t == typeof(long))
        {
            var unit = setting?.Unit is { } u ? $" of {u}" : "";
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                return $"'{Shorten(value)}' is not a whole number{unit}.";
            }
            var min = Math.Max(setting?.Min ?? long.MinValue, t == typeof(int) ? int.MinValue : long.MinValue);
            var max = Math.Min(setting?.Max ?? long.MaxValue, t == typeof(int) ? int.MaxValue : long.MaxValue);
            if (number < min || number > max)
            {
                return $"{number} is out of range: use {min} to {max}{(setting?.Unit is { } un ? $" {un}" : "")}.";
            }
            return null;
        }
        if (t == typeof(double))
        {
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                ? null : $"'{Shorten(value)}' is not a number.";
        }
        return nullable ? null : $"settings of type {t.Name} are not supported.";
    }

    /// <summary>The closest known name within a small edit distance, for "did you mean".</summary>
    public static string? Closest(string name, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }
        return best is not null && bestDistance <= Math.Max(2, best.Length / 4) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>Long values are cut in messages; control characters are escaped so a message cannot forge log lines.</summary>
    /// <summary>What goes under a section: its keys (a few), or a named entry for a dictionary, or an index for a list.</summary>
    private static string SectionKeys(string path, Type type)
    {
        if (DictionaryValueType(type) is not null)
        {
            return $"{path}:<name>";
        }
        if (ListItemType(type) is not null)
        {
            return $"{path}:0, {path}:1, …";
        }
        var names = type.GetProperties().Where(p => p.CanWrite).Select(p => $"{path}:{p.Name}").Take(12).ToList();
        return names.Count == 0 ? $"{path}:<key>" : string.Join(", ", names) + (type.GetProperties().Count(p => p.CanWrite) > names.Count ? ", …" : "");
    }

    /// <summary>
    /// Why a value is not an absolute https URL, without quoting it: a URL can carry a user and password, or a secret in
    /// its query, and this is where one gets pasted.
    /// </summary>
    internal static string HttpsUrlProblem(string value) =>
        !Uri.TryCreate(value.Trim(), UriKind.Absolute, out var url) ? $"is not an absolute URL (a value of {value.Length} characters, not shown)"
        : url.Scheme != Uri.UriSchemeHttps ? $"is not an https URL: its scheme is '{LogText.Quote(url.Scheme, 16)}' (the rest is not shown)"
        : "has no host (the value is not shown)";

    internal static string Shorten(string value) => LogText.Quote(value, 80);
}
