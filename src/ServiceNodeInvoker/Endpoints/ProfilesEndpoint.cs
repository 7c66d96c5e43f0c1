using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// Admin endpoints an operator reaches for: <c>GET /api/profiles</c>, the effective configuration (every
/// setting with its value, or the default it falls back to, and each profile's certificates as they are
/// loaded now), and <c>POST /api/profiles/{name}/refresh</c>, which re-reads that profile's certificates at
/// once (an emergency rotation) and answers with the state after it. Never a password, key, key hash or
/// folder path: sources show file names, passwords "(set)", API keys their names.
/// </summary>
/// <remarks>
/// Profiles and callers are those in force now (a configuration change applied live shows at once); the global settings
/// are start-up's, which only a restart changes. Whether a setting is its default is judged on the configuration as it
/// was read for the version serving it (<see cref="LiveConfiguration"/>), so an edit that was refused shows nothing of itself.
/// </remarks>
internal sealed class ProfilesEndpoint(
    ProfileCatalog catalog, CertificateStore certificates, InvokerOptions options, LiveCallerOptions callerOptions, LiveConfiguration live,
    ConfigurationEndpoint configurationState, HealthEndpoint health, AdminAccess admins, InvokerHostInfo hostInfo)
{
    private const string Root = InvokerOptions.SectionName;

    public Task<IResult> ListAsync(HttpContext context)
    {
        if (admins.Refusal(context, "the configuration view") is { } refusal)
        {
            return Task.FromResult(refusal);
        }
        var profiles = new JsonObject();
        foreach (var profile in catalog.Profiles.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            profiles[profile.Name] = Profile(profile);
        }
        var body = new JsonObject
        {
            ["host"] = hostInfo.Kind == InvokerHostKind.Functions ? "functions" : "standalone",
            ["settings"] = Global(),
            ["profiles"] = profiles,
            ["callers"] = Callers(),
            ["configuration"] = configurationState.State(),
        };
        return Task.FromResult(Results.Json(body));
    }

    public async Task<IResult> RefreshAsync(HttpContext context, string name)
    {
        if (admins.Refusal(context, "a certificate refresh") is { } refusal)
        {
            return refusal;
        }
        if (catalog.Find(name) is not { } profile)
        {
            return ProblemResponse.Create(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile", context);
        }
        var entry = certificates.For(profile);
        var before = entry.State.Material?.Version;
        await entry.RereadAsync(context.RequestAborted);
        var after = entry.State;
        var (_, report) = health.ProfileReport(profile);
        return Results.Json(new JsonObject
        {
            ["profile"] = profile.Name,
            // The load that just ran: a failure keeps the last good certificate, as a scheduled refresh does.
            ["refreshed"] = after.LastError is null,
            ["changed"] = after.Material is not null && after.Material.Version != before,
            ["error"] = after.LastError,
            ["state"] = report,
        });
    }

    private JsonObject Profile(TlsProfile profile)
    {
        var section = live.Live.Settings.GetSection($"{Root}:Profiles:{profile.Name}");
        // Effective values by setting name; ProfilesEndpointTests checks that every ProfileOptions setting is here.
        var settings = new JsonObject
        {
            [nameof(ProfileOptions.Hosts)] = Setting(section, nameof(ProfileOptions.Hosts), Array(profile.Hosts.Select(h => h.ToString()).Order(StringComparer.Ordinal))),
            [nameof(ProfileOptions.ClientCertificate)] = Setting(section, nameof(ProfileOptions.ClientCertificate), Source(profile.ClientCertificate), "none: plain server-verified TLS"),
            [nameof(ProfileOptions.TrustedCa)] = Setting(section, nameof(ProfileOptions.TrustedCa), Source(profile.TrustedCa), "the system trust store"),
            [nameof(ProfileOptions.ServerCertificatePins)] = Setting(section, nameof(ProfileOptions.ServerCertificatePins),
                Array(profile.ServerCertificatePins.Select(p => "sha256/" + Convert.ToBase64String(p))), "no pins"),
            [nameof(ProfileOptions.Timeout)] = Setting(section, nameof(ProfileOptions.Timeout), profile.Timeout.TotalSeconds, unit: "seconds"),
            [nameof(ProfileOptions.MaxResponseBytes)] = Setting(section, nameof(ProfileOptions.MaxResponseBytes), profile.MaxResponseBytes, unit: "bytes"),
            [nameof(ProfileOptions.AllowedCallers)] = Setting(section, nameof(ProfileOptions.AllowedCallers),
                Array(profile.AllowedCallers.Order(StringComparer.Ordinal)), "any authenticated caller (unless a caller's own Grants say otherwise)"),
            [nameof(ProfileOptions.BaseUrl)] = Setting(section, nameof(ProfileOptions.BaseUrl), profile.BaseUrl?.ToString(), "none: forward mode is off"),
            [nameof(ProfileOptions.ForwardCallerHeaders)] = Setting(section, nameof(ProfileOptions.ForwardCallerHeaders),
                Array(profile.ForwardCallerHeaders.Order(StringComparer.OrdinalIgnoreCase)), "none passed on"),
            [nameof(ProfileOptions.AllowPrivateNetwork)] = Setting(section, nameof(ProfileOptions.AllowPrivateNetwork), profile.AllowPrivateNetwork),
            [nameof(ProfileOptions.AllowLegacyServerCrypto)] = Setting(section, nameof(ProfileOptions.AllowLegacyServerCrypto), profile.AllowLegacyServerCrypto),
            [nameof(ProfileOptions.Token)] = Setting(section, nameof(ProfileOptions.Token), Token(profile.Token), "none: no access token is sent"),
        };
        var (status, report) = health.ProfileReport(profile);
        return new JsonObject { ["status"] = status, ["settings"] = settings, ["certificates"] = report };
    }

    private JsonObject Global()
    {
        var configuration = live.Start.Settings;
        var section = configuration.GetSection(Root);
        return new JsonObject
        {
            [nameof(InvokerOptions.AllowLoopback)] = Setting(section, nameof(InvokerOptions.AllowLoopback), options.AllowLoopback),
            [nameof(InvokerOptions.MaxRequestBytes)] = Setting(section, nameof(InvokerOptions.MaxRequestBytes), options.MaxRequestBytes, unit: "bytes"),
            [nameof(InvokerOptions.MaxUrlLength)] = Setting(section, nameof(InvokerOptions.MaxUrlLength), options.MaxUrlLength, unit: "characters"),
            [nameof(InvokerOptions.MaxHeaderCount)] = Setting(section, nameof(InvokerOptions.MaxHeaderCount), options.MaxHeaderCount, unit: "headers"),
            [nameof(InvokerOptions.MaxHeaderBytes)] = Setting(section, nameof(InvokerOptions.MaxHeaderBytes), options.MaxHeaderBytes, unit: "bytes"),
            [nameof(InvokerOptions.CertificateRefreshInterval)] = Setting(section, nameof(InvokerOptions.CertificateRefreshInterval),
                SettingParsers.Duration(options.CertificateRefreshInterval, RefreshPolicy.DefaultInterval).TotalSeconds, unit: "seconds"),
            [nameof(InvokerOptions.ManagedIdentityClientId)] = Setting(section, nameof(InvokerOptions.ManagedIdentityClientId), options.ManagedIdentityClientId,
                configuration["AZURE_CLIENT_ID"] is { Length: > 0 } ? "AZURE_CLIENT_ID" : "none: the system-assigned identity or a developer credential"),
            [nameof(InvokerOptions.Credential)] = Setting(section, nameof(InvokerOptions.Credential), options.Credential.ToString()),
            [nameof(InvokerOptions.MaxBufferedResponseBytes)] = Setting(section, nameof(InvokerOptions.MaxBufferedResponseBytes), options.MaxBufferedResponseBytes, unit: "bytes"),
            [nameof(InvokerOptions.ExpiryWarningDays)] = Setting(section, nameof(InvokerOptions.ExpiryWarningDays), options.ExpiryWarningDays, unit: "days"),
        };
    }

    private JsonObject Callers()
    {
        var callers = callerOptions.Current;
        var section = live.Live.Settings.GetSection($"{Root}:Callers");
        var atStart = live.Start.Settings.GetSection($"{Root}:Callers"); // what only a restart changes
        var identities = new JsonObject();
        foreach (var (name, certificate) in callers.Certificates.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            identities[name] = new JsonObject { ["thumbprint"] = certificate.Thumbprint, ["subject"] = certificate.Subject };
        }
        var grants = new JsonObject();
        foreach (var (name, profiles) in callers.Grants.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            grants[name] = Array(profiles);
        }
        return new JsonObject
        {
            [nameof(CallerOptions.Mode)] = Setting(atStart, nameof(CallerOptions.Mode), callers.Mode.ToString()),
            // Names only: the hashes stay in configuration.
            [nameof(CallerOptions.ApiKeys)] = Setting(section, nameof(CallerOptions.ApiKeys), Array(callers.ApiKeys.Keys.Order(StringComparer.Ordinal)), "none: every call gets 401 on the standalone host"),
            [nameof(CallerOptions.AdminKeys)] = Setting(section, nameof(CallerOptions.AdminKeys), Array(callers.AdminKeys.Keys.Order(StringComparer.Ordinal)), "none"),
            [nameof(CallerOptions.Certificates)] = Setting(section, nameof(CallerOptions.Certificates), identities, "none"),
            [nameof(CallerOptions.CertificateAuthority)] = Setting(atStart, nameof(CallerOptions.CertificateAuthority), Source(CertificateSourceOptions.IsUnset(callers.CertificateAuthority) ? null : callers.CertificateAuthority), "none"),
            [nameof(CallerOptions.TrustForwardedCertificate)] = Setting(section, nameof(CallerOptions.TrustForwardedCertificate), callers.TrustForwardedCertificate),
            [nameof(CallerOptions.BehindCertificateForwardingFrontEnd)] = Setting(section, nameof(CallerOptions.BehindCertificateForwardingFrontEnd), callers.BehindCertificateForwardingFrontEnd),
            [nameof(CallerOptions.Grants)] = Setting(section, nameof(CallerOptions.Grants), grants, "each profile's AllowedCallers"),
            ["certificateAuthorityState"] = health.CallerAuthorityReport(),
        };
    }

    /// <summary>A setting as shown: its effective value, and whether that is the default (with what the default means).</summary>
    private static JsonObject Setting(IConfigurationSection parent, string name, JsonNode? value, string? meaningWhenDefault = null, string? unit = null)
    {
        var child = parent.GetSection(name);
        var isDefault = string.IsNullOrWhiteSpace(child.Value) && !child.GetChildren().Any(c => !string.IsNullOrWhiteSpace(c.Value) || c.GetChildren().Any());
        var setting = new JsonObject { ["value"] = value, ["default"] = isDefault };
        if (unit is not null)
        {
            setting["unit"] = unit;
        }
        if (isDefault && meaningWhenDefault is not null)
        {
            setting["meaning"] = meaningWhenDefault;
        }
        return setting;
    }

    private static JsonArray Array(IEnumerable<string> items) => new(items.Select(i => (JsonNode)i).ToArray());

    /// <summary>A certificate source without its secrets or folders.</summary>
    private static JsonObject? Source(CertificateSourceOptions? o)
    {
        if (o is null)
        {
            return null;
        }
        var source = new JsonObject { ["source"] = o.Source?.ToString() };
        void Add(string key, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                source[key] = value;
            }
        }
        Add("vaultUri", o.VaultUri?.ToString());
        Add("name", o.Name);
        if (o.Source == CertificateSourceKind.KeyVault)
        {
            source["version"] = string.IsNullOrWhiteSpace(o.Version) ? "latest (follows rotation)" : $"{o.Version} (pinned)";
        }
        Add("file", FileName(o.Path));
        Add("certificateFile", FileName(o.CertificatePath));
        Add("keyFile", FileName(o.KeyPath));
        Add("chainFile", FileName(o.ChainPath));
        Add("password", string.IsNullOrEmpty(o.Password) ? null : "(set)");
        return source;
    }

    /// <summary>A token source as shown: the client secret's source, never its value.</summary>
    private static JsonObject? Token(ProfileToken? token) => token is null ? null : new JsonObject
    {
        ["endpoint"] = token.EndpointName,
        ["clientId"] = token.ClientId,
        ["clientAuthentication"] = token.MethodName,
        ["scopes"] = Array(token.Scopes),
        ["audience"] = token.Audience,
        ["resource"] = token.Resource,
        ["clientSecret"] = token.ClientSecret is not { } secret ? null
            : secret.Source == SecretSourceKind.KeyVault
                ? new JsonObject
                {
                    ["source"] = "KeyVault",
                    ["vaultUri"] = secret.VaultUri?.ToString(),
                    ["name"] = secret.Name,
                    ["version"] = string.IsNullOrWhiteSpace(secret.Version) ? "latest (read for each token request)" : $"{secret.Version} (pinned)",
                }
                : new JsonObject { ["source"] = "Setting", ["value"] = "(set)" },
    };

    private static string? FileName(string? path) => string.IsNullOrWhiteSpace(path) ? null : Path.GetFileName(path);
}
