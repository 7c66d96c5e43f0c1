using Microsoft.Extensions.Configuration;
using ServiceNodeInvoker.Contract;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// The meaning of the settings, once names and conversions have passed <see cref="ConfigurationSchema"/>:
/// ranges, complete certificate sources, host ownership, and every reference between settings
/// (callers, grants, profiles). All problems are returned together, each naming its full setting path.
/// </summary>
public sealed partial class InvokerOptionsValidator(InvokerHostInfo hostInfo) : IValidateOptions<InvokerOptions>
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
            CheckProfile(profileName, profile, owners, KnownCallers(options.Callers), problems);
        }
        CheckCallers(options, problems);
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
        return result.Failed ? result.Failures : [];
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

    private static void CheckProfile(string name, ProfileOptions o, Dictionary<HostKey, string> owners, HashSet<string> callers, List<string> problems)
    {
        var prefix = $"{Root}:Profiles:{name}";
        if (!ProfileName().IsMatch(name))
        {
            problems.Add($"{prefix}: the profile name '{ConfigurationSchema.Shorten(name)}' is invalid: use letters, digits, '-' and '_' (at most 64).");
        }
        var hosts = o.Hosts.Where(h => !string.IsNullOrWhiteSpace(h)).ToList();
        if (hosts.Count == 0)
        {
            problems.Add($"{prefix}:Hosts: is empty: list the host or host:port entries the profile owns ({prefix}:Hosts:0).");
        }
        for (var i = 0; i < o.Hosts.Count; i++)
        {
            var entry = o.Hosts[i];
            if (string.IsNullOrWhiteSpace(entry))
            {
                continue;
            }
            if (entry.Contains('*'))
            {
                problems.Add($"{prefix}:Hosts:{i}: '{ConfigurationSchema.Shorten(entry)}': wildcards are not supported; list each host (and port) the profile owns.");
                continue;
            }
            if (!HostKey.TryParse(entry, out var key))
            {
                problems.Add($"{prefix}:Hosts:{i}: '{ConfigurationSchema.Shorten(entry)}' is not a host or host:port (no scheme, path or user).");
                continue;
            }
            if (owners.TryGetValue(key, out var owner) && !owner.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"{prefix}:Hosts:{i}: profiles '{owner}' and '{name}' both list {key}: exactly one profile may own a host:port.");
            }
            owners.TryAdd(key, name);
        }
        CheckBaseUrl(prefix, o, problems);
        for (var i = 0; i < o.ForwardCallerHeaders.Count; i++)
        {
            if (!HeaderRules.IsValidName(o.ForwardCallerHeaders[i]))
            {
                problems.Add($"{prefix}:ForwardCallerHeaders:{i}: '{ConfigurationSchema.Shorten(o.ForwardCallerHeaders[i])}' is not a header name.");
            }
        }
        if (!string.IsNullOrWhiteSpace(o.Timeout))
        {
            if (!SettingParsers.TryParseDuration(o.Timeout, out var timeout))
            {
                problems.Add($"{prefix}:Timeout: '{ConfigurationSchema.Shorten(o.Timeout)}' is neither seconds (\"30\") nor a time span (\"00:00:30\").");
            }
            else if (timeout <= TimeSpan.Zero || timeout.TotalSeconds > TlsProfile.MaxTimeoutSeconds)
            {
                problems.Add($"{prefix}:Timeout: must be more than 0 and at most {TlsProfile.MaxTimeoutSeconds} seconds (Azure's load balancer limit).");
            }
        }
        for (var i = 0; i < o.ServerCertificatePins.Count; i++)
        {
            if (!SettingParsers.TryParsePin(o.ServerCertificatePins[i], out _))
            {
                problems.Add($"{prefix}:ServerCertificatePins:{i}: is not a SHA-256 digest in base64 (\"sha256/…\") or hex.");
            }
        }
        CheckSource(o.ClientCertificate, $"{prefix}:ClientCertificate", CertificateRole.Client, problems);
        CheckSource(o.TrustedCa, $"{prefix}:TrustedCa", CertificateRole.TrustedCa, problems);
        for (var i = 0; i < o.AllowedCallers.Count; i++)
        {
            var caller = o.AllowedCallers[i];
            if (caller != "*" && !callers.Contains(caller))
            {
                problems.Add($"{prefix}:AllowedCallers:{i}: no caller is named '{ConfigurationSchema.Shorten(caller)}' " +
                             $"(callers are the names under {Root}:Callers:ApiKeys and {Root}:Callers:Certificates{Suggest(caller, callers)}).");
            }
        }
    }

    /// <summary>Forward mode's base: absolute https, no query, fragment or user, on a host:port the profile owns.</summary>
    private static void CheckBaseUrl(string prefix, ProfileOptions o, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(o.BaseUrl))
        {
            return;
        }
        var setting = $"{prefix}:BaseUrl";
        if (!Uri.TryCreate(o.BaseUrl, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps || url.IdnHost.Length == 0)
        {
            problems.Add($"{setting}: '{ConfigurationSchema.Shorten(o.BaseUrl)}' is not an absolute https URL (https://host[:port][/path]).");
            return;
        }
        if (url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0 || o.BaseUrl.Contains('\\'))
        {
            problems.Add($"{setting}: must have no query, fragment, user or backslash (the caller's path and query are added to it).");
            return;
        }
        var key = HostKey.FromUri(url);
        var owned = o.Hosts.Any(h => HostKey.TryParse(h, out var host) && host.Equals(key));
        if (!owned)
        {
            problems.Add($"{setting}: its host:port {key} is not one of the profile's Hosts: add it to {prefix}:Hosts.");
        }
    }

    /// <summary>A certificate source must be complete for its kind; an all-empty section counts as absent.</summary>
    public static void CheckSource(CertificateSourceOptions? o, string setting, CertificateRole role, List<string> problems)
    {
        if (CertificateSourceOptions.IsUnset(o))
        {
            return;
        }
        void Require(string? value, string name, string what)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"{setting}:{name}: is missing: {what}.");
            }
        }
        switch (o!.Source)
        {
            case null:
                problems.Add($"{setting}:Source: is missing: use KeyVault, File or Pem.");
                break;
            case CertificateSourceKind.File:
                Require(o.Path, "Path", role == CertificateRole.Client ? "the PFX file's path" : "the CA file's path (PEM, DER or PFX)");
                break;
            case CertificateSourceKind.Pem:
                Require(o.CertificatePath, "CertificatePath", "the PEM certificate file's path");
                if (role == CertificateRole.Client)
                {
                    Require(o.KeyPath, "KeyPath", "the PEM private key file's path");
                }
                break;
            case CertificateSourceKind.KeyVault:
                if (o.VaultUri is null || !o.VaultUri.IsAbsoluteUri || o.VaultUri.Scheme != Uri.UriSchemeHttps || o.VaultUri.Host.Length == 0)
                {
                    problems.Add($"{setting}:VaultUri: must be the vault's https URI, such as https://my-vault.vault.azure.net/.");
                }
                Require(o.Name, "Name", "the certificate's name in the vault");
                break;
        }
    }

    private void CheckCallers(InvokerOptions options, List<string> problems)
    {
        var o = options.Callers;
        var prefix = $"{Root}:Callers";
        foreach (var (caller, hash) in o.ApiKeys)
        {
            if (!SettingParsers.TryParseSha256Hex(hash, out _))
            {
                problems.Add($"{prefix}:ApiKeys:{caller}: must be the SHA-256 of the key in hex (64 characters), not the key itself.");
            }
        }
        foreach (var (admin, hash) in o.AdminKeys)
        {
            if (!SettingParsers.TryParseSha256Hex(hash, out _))
            {
                problems.Add($"{prefix}:AdminKeys:{admin}: must be the SHA-256 of the key in hex (64 characters), not the key itself.");
            }
        }
        foreach (var (caller, certificate) in o.Certificates)
        {
            var setting = $"{prefix}:Certificates:{caller}";
            if (string.IsNullOrWhiteSpace(certificate.Thumbprint) && string.IsNullOrWhiteSpace(certificate.Subject))
            {
                problems.Add($"{setting}: needs a Thumbprint (SHA-256 hex) or a Subject.");
            }
            if (!string.IsNullOrWhiteSpace(certificate.Thumbprint) && !SettingParsers.TryParseSha256Hex(certificate.Thumbprint, out _))
            {
                problems.Add($"{setting}:Thumbprint: is not a SHA-256 thumbprint (64 hex digits; a 40-digit SHA-1 thumbprint is not accepted).");
            }
        }
        if (o.Mode == CallerMode.KeyOnly)
        {
            if (o.Certificates.Count > 0)
            {
                problems.Add($"{prefix}:Certificates: callers are identified by certificate, but {prefix}:Mode is KeyOnly, so they would never be: " +
                             "set Mode to KeyOrCertificate or CertificateRequired, or remove them.");
            }
        }
        else
        {
            if (CertificateSourceOptions.IsUnset(o.CertificateAuthority))
            {
                problems.Add($"{prefix}:CertificateAuthority: is missing: {prefix}:Mode is {o.Mode}, so caller certificates must chain to the root(s) set here.");
            }
            else
            {
                CheckSource(o.CertificateAuthority, $"{prefix}:CertificateAuthority", CertificateRole.TrustedCa, problems);
            }
            if (o.Certificates.Count == 0)
            {
                problems.Add($"{prefix}:Certificates: is empty: {prefix}:Mode is {o.Mode}, but no caller certificate is listed, so no certificate would be accepted.");
            }
        }
        if (o.TrustForwardedCertificate && host == InvokerHostKind.Standalone && !o.BehindCertificateForwardingFrontEnd)
        {
            problems.Add($"{prefix}:TrustForwardedCertificate: the standalone host would let any caller claim any certificate in the " +
                         $"X-ARR-ClientCert header. Set {prefix}:BehindCertificateForwardingFrontEnd=true only if a front end that sets " +
                         "(and strips) that header is the only way in; otherwise turn TrustForwardedCertificate off.");
        }
        var known = KnownCallers(o);
        foreach (var (caller, profiles) in o.Grants)
        {
            if (!known.Contains(caller))
            {
                problems.Add($"{prefix}:Grants:{caller}: no caller is named '{caller}' (callers are the names under {prefix}:ApiKeys and {prefix}:Certificates{Suggest(caller, known)}).");
            }
            for (var i = 0; i < profiles.Count; i++)
            {
                if (!options.Profiles.ContainsKey(profiles[i]))
                {
                    problems.Add($"{prefix}:Grants:{caller}:{i}: no profile is named '{ConfigurationSchema.Shorten(profiles[i])}'{Suggest(profiles[i], options.Profiles.Keys, "; did you mean")}.");
                }
            }
        }
    }

    private static HashSet<string> KnownCallers(CallerOptions o) =>
        new(o.ApiKeys.Keys.Concat(o.Certificates.Keys), StringComparer.OrdinalIgnoreCase);

    private static string Suggest(string name, IEnumerable<string> known, string lead = "; did you mean") =>
        ConfigurationSchema.Closest(name, known) is { } close ? $"{lead} '{close}'?" : "";

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ProfileName();
}
