using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tokens;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// GET /api/health: per profile, the certificate state (never secret material, never a file's
/// folder). Degraded when a certificate expires within the warning window or the last refresh
/// failed; unhealthy (503) when a profile cannot make calls or the caller CA cannot be loaded.
/// </summary>
internal sealed class HealthEndpoint(ProfileCatalog catalog, CertificateStore certificates, TokenStore tokens, CallerAuthenticator callers, InvokerOptions options, TimeProvider time)
{
    public const string Healthy = "healthy";
    public const string Degraded = "degraded";
    public const string Unhealthy = "unhealthy";

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var caller = await callers.AuthenticateHealthAsync(context);
        if (!caller.Authenticated)
        {
            return ProblemResponse.Create(Contract.ErrorCodes.Unauthenticated, $"The caller is not authenticated: {caller.Problem}.", null, context);
        }
        var now = time.GetUtcNow();
        var profiles = new JsonObject();
        var overall = Healthy;
        foreach (var profile in catalog.Profiles.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var (status, report) = Report(profile, certificates.For(profile), now);
            profiles[profile.Name] = report;
            overall = Worse(overall, status);
        }
        var body = new JsonObject { ["status"] = overall, ["checkedAt"] = now, ["profiles"] = profiles };
        if (certificates.Other(CallerCertificates.AuthorityKey) is { } authority)
        {
            var (status, report) = ReportAuthority(authority);
            body["callerCertificateAuthority"] = report;
            overall = Worse(overall, status);
            body["status"] = overall;
        }
        return Results.Json(body, statusCode: overall == Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    /// <summary>One profile's certificate state as health reports it (the admin endpoints show the same).</summary>
    public (string Status, JsonObject Report) ProfileReport(TlsProfile profile) => Report(profile, certificates.For(profile), time.GetUtcNow());

    /// <summary>The caller CA's state as health reports it, when caller certificates are on.</summary>
    public JsonObject? CallerAuthorityReport() => certificates.Other(CallerCertificates.AuthorityKey) is { } authority ? ReportAuthority(authority).Report : null;

    /// <summary>The head of one certificate's report (configured, source, loaded, error); an unloaded one makes the profile unhealthy.</summary>
    private static JsonObject Part(ICertificateSource? source, object? loaded, string? error, string what, ref string status, JsonArray reasons)
    {
        var part = new JsonObject { ["configured"] = source is not null, ["source"] = source?.Description };
        if (source is not null)
        {
            part["loaded"] = loaded is not null;
            part["error"] = error;
            if (loaded is null)
            {
                status = Unhealthy;
                reasons.Add(error is { } why ? $"the {what} is not loaded: {why}" : $"the {what} is not loaded yet");
            }
        }
        return part;
    }

    private (string Status, JsonObject Report) Report(TlsProfile profile, CertificateCache entry, DateTimeOffset now)
    {
        var state = entry.State;
        var reasons = new JsonArray();
        var warnings = new JsonArray();
        var status = Healthy;
        // Each certificate reports its own state: one that failed to load never makes the other read as missing.
        var certificate = Part(entry.ClientSource, state.Client, state.ClientError, "client certificate", ref status, reasons);
        if (entry.ClientSource is not null)
        {
            if (state.Client is { } client)
            {
                var daysLeft = CertificateWarnings.DaysLeft(client.NotAfter, now);
                certificate["subject"] = client.Subject;
                certificate["thumbprintSha256"] = client.ThumbprintSha256;
                certificate["version"] = client.SourceVersion;
                certificate["notAfter"] = client.NotAfter;
                certificate["daysLeft"] = daysLeft;
                certificate["chain"] = new JsonArray([Describe(client.Leaf), .. client.Intermediates.Select(Describe)]);
                if (client.NotAfter <= now)
                {
                    status = Unhealthy;
                    reasons.Add($"the client certificate {CertificateWarnings.DescribeDaysLeft(client.NotAfter, now)}");
                }
                else if (client.NotBefore > now)
                {
                    status = Unhealthy;
                    reasons.Add($"the client certificate is not valid before {CertificateFacts.Date(client.NotBefore)}");
                }
                else if (daysLeft <= options.ExpiryWarningDays)
                {
                    status = Worse(status, Degraded);
                    reasons.Add($"the client certificate {CertificateWarnings.DescribeDaysLeft(client.NotAfter, now)} (warning window {options.ExpiryWarningDays} days)");
                }
                foreach (var problem in client.Problems)
                {
                    status = Worse(status, Degraded);
                    reasons.Add(problem);
                }
                foreach (var warning in client.Warnings)
                {
                    warnings.Add(warning);
                }
            }
        }
        var trustedCa = Part(entry.TrustedCaSource, state.TrustedCa, state.TrustedCaError, "trusted CA", ref status, reasons);
        if (entry.TrustedCaSource is not null)
        {
            if (state.TrustedCa is { } loaded)
            {
                trustedCa["subjects"] = new JsonArray(loaded.Select(c => (JsonNode)c.Subject).ToArray());
                trustedCa["certificates"] = new JsonArray(loaded.Select(Describe).ToArray());
            }
        }
        if (profile.LegacyCryptoWarning is { } legacy)
        {
            warnings.Add(legacy);
        }
        if (state.Vault is { } vault)
        {
            certificate["vault"] = new JsonObject
            {
                ["version"] = vault.Version,
                ["enabled"] = vault.Enabled,
                ["notBefore"] = vault.NotBefore,
                ["expiresOn"] = vault.ExpiresOn,
                ["renewal"] = vault.Renewal,
            };
            if (vault.Problem(now) is { } problem)
            {
                status = Worse(status, Degraded);
                reasons.Add($"the client certificate's {problem}");
            }
        }
        if (state.LastError is not null)
        {
            status = Worse(status, Degraded);
            reasons.Add("the last refresh failed");
        }
        var token = tokens.For(profile) is { } cache ? TokenReport(cache, state.Client?.ThumbprintSha256, now, ref status, reasons) : null;
        var report = new JsonObject
        {
            ["status"] = status,
            ["hosts"] = new JsonArray(profile.Hosts.Select(h => (JsonNode)h.ToString()).ToArray()),
            ["certificate"] = certificate,
            ["trustedCa"] = trustedCa,
            ["token"] = token,
            ["lastRefresh"] = state.LastRefresh,
            ["nextRefresh"] = state.NextRefresh,
            ["lastError"] = state.LastError,
            ["reasons"] = reasons,
            ["warnings"] = warnings,
        };
        // Kept where earlier versions had them, for dashboards reading certificate.lastError.
        certificate["lastRefresh"] = state.LastRefresh;
        certificate["nextRefresh"] = state.NextRefresh;
        certificate["lastError"] = state.LastError;
        return (status, report);
    }

    /// <summary>
    /// The profile's access token: never the token itself. Unhealthy when there is none and the last request failed
    /// (calls fail with token-unavailable); degraded when the last renewal failed while the cached token still serves.
    /// </summary>
    private static JsonObject TokenReport(TokenCache cache, string? currentCertificate, DateTimeOffset now, ref string status, JsonArray reasons)
    {
        var settings = cache.Profile.Token!;
        var state = cache.State;
        var usable = state.UsableUntil is { } until && now < until && state.BoundTo == (currentCertificate ?? "");
        var report = new JsonObject
        {
            ["endpoint"] = settings.EndpointName,
            ["clientId"] = settings.ClientId,
            ["clientAuthentication"] = settings.MethodName,
            ["scopes"] = new JsonArray(settings.Scopes.Select(s => (JsonNode)s).ToArray()),
            ["state"] = usable ? "valid" : state.ExpiresAt is null ? "none" : "expired",
            ["expiresAt"] = state.ExpiresAt,
            ["expiresInSeconds"] = state.ExpiresAt is { } expires ? Math.Max(0, (long)(expires - now).TotalSeconds) : null,
            ["expiresInGiven"] = state.ExpiresInGiven,
            ["grantedScopes"] = state.Scopes is { } granted ? new JsonArray(granted.Select(s => (JsonNode)s).ToArray()) : null,
            ["boundToCertificate"] = string.IsNullOrEmpty(state.BoundTo) ? null : state.BoundTo,
            ["lastRefresh"] = state.LastRefresh,
            ["lastAttempt"] = state.LastAttempt,
            ["nextRefresh"] = state.NextRefresh,
            ["retryAt"] = state.RetryAt,
            ["requestingSince"] = state.RequestingSince,
            ["refusedByBackendAt"] = state.RefusedAt,
            ["lastError"] = state.LastError,
            ["lastErrorCause"] = state.LastErrorCause,
            ["requests"] = state.Requests,
        };
        if (usable && state.RefusedAt is { } refused)
        {
            // Calls fail at the backend though the token looks fine: say so, rather than "healthy".
            status = Worse(status, Degraded);
            reasons.Add($"a backend refused the current access token at {refused:yyyy-MM-dd'T'HH:mm:ss'Z'} (401 invalid_token); " +
                "a new one is asked for at most every 30 s (invoker-token: retry-skipped meanwhile)");
        }
        if (!usable && state.LastError is null && state.RequestingSince is { } since && now - since > TimeSpan.FromSeconds(5))
        {
            // Calls wait for a token that has not come: not healthy, though nothing has failed yet.
            status = Worse(status, Degraded);
            reasons.Add($"no access token yet: the token request to {settings.EndpointName} has been waiting {(long)(now - since).TotalSeconds} s for an answer");
        }
        if (state.LastError is { } error)
        {
            if (usable)
            {
                status = Worse(status, Degraded);
                reasons.Add($"the last token renewal failed; the cached token serves until {state.UsableUntil:yyyy-MM-dd'T'HH:mm:ss'Z'}: {error}");
            }
            else
            {
                status = Unhealthy;
                reasons.Add($"no access token: {error}");
            }
        }
        return report;
    }

    private static (string Status, JsonObject Report) ReportAuthority(CertificateCache authority)
    {
        var state = authority.State;
        var loaded = state.TrustedCa;
        var status = loaded is null ? Unhealthy : state.LastError is not null ? Degraded : Healthy;
        return (status, new JsonObject
        {
            ["status"] = status,
            ["source"] = authority.TrustedCaSource?.Description,
            ["loaded"] = loaded is not null,
            ["subjects"] = loaded is null ? null : new JsonArray(loaded.Select(c => (JsonNode)c.Subject).ToArray()),
            ["certificates"] = loaded is null ? null : new JsonArray(loaded.Select(Describe).ToArray()),
            ["lastRefresh"] = state.LastRefresh,
            ["nextRefresh"] = state.NextRefresh,
            ["lastError"] = state.LastError,
        });
    }

    /// <summary>A certificate as health shows it: public facts only.</summary>
    private static JsonNode Describe(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) => new JsonObject
    {
        ["subject"] = certificate.Subject,
        ["issuer"] = certificate.Issuer,
        ["thumbprintSha256"] = CertificateFacts.ThumbprintSha256(certificate),
        ["notAfter"] = CertificateFacts.NotAfter(certificate),
    };

    private static string Worse(string a, string b) =>
        a == Unhealthy || b == Unhealthy ? Unhealthy : a == Degraded || b == Degraded ? Degraded : Healthy;
}
