using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Primitives;
using Microsoft.Extensions.Configuration;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// The whole start-up check of the <c>Invoker</c> section as one call — names and conversions
/// (<see cref="ConfigurationSchema"/>), then meaning (<see cref="InvokerOptionsValidator"/>) — for the
/// command-line check (<c>--check-config</c>), which must refuse exactly what start-up refuses. Start-up
/// runs the same steps through the options pipeline.
/// </summary>
public static class ConfigurationCheck
{
    /// <summary>Every problem of the configuration, each naming its full setting path (empty: it would start).</summary>
    public static IReadOnlyList<string> Problems(IConfiguration configuration, InvokerHostKind host) => Read(configuration, host, out _);

    /// <summary>
    /// The start-up check, and the options it bound when it passes: what a configuration change goes through before
    /// it is applied (<see cref="LiveConfiguration"/>), so a change is refused exactly when start-up would refuse it.
    /// </summary>
    /// <param name="options">The validated options (null when there are problems).</param>
    internal static IReadOnlyList<string> Read(IConfiguration configuration, InvokerHostKind host, out InvokerOptions? options)
    {
        options = null;
        var section = configuration.GetSection(InvokerOptions.SectionName);
        var problems = ConfigurationSchema.Check(section, typeof(InvokerOptions), out var faulty);
        if (problems.Count > 0)
        {
            problems.AddRange(InvokerOptionsValidator.ProblemsDespiteSchema(section, new InvokerHostInfo(host), faulty));
            return problems;
        }
        var bound = new InvokerOptions();
        section.Bind(bound, binder => binder.ErrorOnUnknownConfiguration = true);
        ApplyFallbacks(bound, configuration);
        var result = new InvokerOptionsValidator(new InvokerHostInfo(host)).Validate(null, bound);
        if (result.Failed)
        {
            return result.Failures.ToList();
        }
        options = bound;
        return [];
    }

    /// <summary>Settings that fall back to platform variables (AZURE_CLIENT_ID for the managed identity).</summary>
    internal static void ApplyFallbacks(InvokerOptions options, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(options.ManagedIdentityClientId) && configuration["AZURE_CLIENT_ID"] is { Length: > 0 } clientId)
        {
            options.ManagedIdentityClientId = clientId;
        }
    }

    /// <summary>
    /// A Functions <c>local.settings.json</c> as configuration: its <c>Values</c>, with app-setting names
    /// (<c>Invoker__Profiles__a__Hosts__0</c>) read the way the Functions host reads them.
    /// </summary>
    public static IConfiguration FromLocalSettings(string path)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path),
            new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!document.RootElement.TryGetProperty("Values", out var values) || values.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{Path.GetFileName(path)}' has no \"Values\" object: it is not a Functions local.settings.json");
        }
        var settings = values.EnumerateObject().ToDictionary(
            p => p.Name.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal),
            p => p.Value.ValueKind == System.Text.Json.JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText());
        return new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
    }
}
