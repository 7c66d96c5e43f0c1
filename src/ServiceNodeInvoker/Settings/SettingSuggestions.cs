namespace ServiceNodeInvoker.Settings;

/// <summary>"did you mean" for a setting that names something unknown.</summary>
internal static class SettingSuggestions
{
    public static string Suggest(string name, IEnumerable<string> known, string lead = "; did you mean") =>
        ConfigurationSchema.Closest(name, known) is { } close ? $"{lead} '{close}'?" : "";
}
