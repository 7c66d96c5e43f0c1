using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Telemetry;
using Microsoft.Extensions.Configuration;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// The meaning of the settings, once names and conversions have passed <see cref="ConfigurationSchema"/>:
/// composed from each concern's own rules (<see cref="ProfileOptionsValidator"/>, <see cref="CallerOptionsValidator"/>,
/// <see cref="CertificateSourceRules"/>) plus the global settings checked here. All problems are returned
/// together, each naming its full setting path.
/// </summary>
/// <param name="telemetry">Given by the host's container: says when the options were validated (a start-up milestone).</param>
internal sealed class InvokerOptionsValidator(InvokerHostInfo hostInfo, InvokerTelemetry? telemetry = null) : IValidateOptions<InvokerOptions>
{
    private readonly InvokerHostKind host = hostInfo.Kind;
    private const string Root = InvokerOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, InvokerOptions options)
    {
        var problems = new List<string>();
        CheckGlobal(options, problems);
        var owners = new Dictionary<HostKey, string>();
        foreach (var (profileName, profile) in options.Profiles.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            ProfileOptionsValidator.Check(profileName, profile, owners, CallerOptionsValidator.KnownCallers(options.Callers), problems);
        }
        ProfileOptionsValidator.CheckTokenEndpoints(options.Profiles, owners, problems);
        CallerOptionsValidator.Check(options.Callers, host, options.Profiles.Keys, problems);
        telemetry?.Startup.OptionsValidated();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>
    /// The meaning problems of a section that also has schema problems: bound leniently (a value that does
    /// not convert leaves its setting, or its whole dictionary entry, out), then validated. Empty when even
    /// a lenient bind fails.
    /// </summary>
    public static IEnumerable<string> ProblemsDespiteSchema(Microsoft.Extensions.Configuration.IConfigurationSection section, InvokerHostInfo host,
        IReadOnlySet<string>? faulty = null)
    {
        InvokerOptions options;
        try
        {
            // The settings at fault are left out, so one value that does not convert hides nothing else.
            var kept = section.AsEnumerable()
                .Where(kv => kv.Value is not null && faulty?.Any(f => kv.Key.Equals(f, StringComparison.OrdinalIgnoreCase)
                    || kv.Key.StartsWith(f + ":", StringComparison.OrdinalIgnoreCase)) != true)
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            var copy = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(kept).Build().GetSection(section.Path);
            options = new InvokerOptions();
            Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(copy, options);
        }
        catch (InvalidOperationException)
        {
            return [];
        }
        var result = new InvokerOptionsValidator(host).Validate(null, options);
        // A setting the schema check already named (and left out of this bind) is not named again as missing.
        return result.Failed
            ? result.Failures.Where(line => faulty?.Any(f => line.StartsWith(f + ": ", StringComparison.OrdinalIgnoreCase)) != true)
            : [];
    }

    private static void CheckGlobal(InvokerOptions o, List<string> problems)
    {
        if (!string.IsNullOrWhiteSpace(o.CertificateRefreshInterval))
        {
            var setting = $"{Root}:CertificateRefreshInterval";
            if (!SettingParsers.TryParseDuration(o.CertificateRefreshInterval, out var interval))
            {
                problems.Add($"{setting}: '{ConfigurationSchema.Shorten(o.CertificateRefreshInterval)}' is neither seconds (\"3600\") nor a time span (\"01:00:00\").");
            }
            else if (interval < RefreshPolicy.MinimumInterval || interval > RefreshPolicy.MaximumInterval)
            {
                problems.Add($"{setting}: must be from {RefreshPolicy.MinimumInterval.TotalSeconds:0} seconds to {RefreshPolicy.MaximumInterval.TotalHours:0} hours.");
            }
        }
        if (!string.IsNullOrWhiteSpace(o.ManagedIdentityClientId) && !Guid.TryParse(o.ManagedIdentityClientId, out _))
        {
            problems.Add($"{Root}:ManagedIdentityClientId: '{ConfigurationSchema.Shorten(o.ManagedIdentityClientId)}' is not a client id (a GUID).");
        }
    }
}
