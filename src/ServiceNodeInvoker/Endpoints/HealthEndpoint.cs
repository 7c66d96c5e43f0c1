using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// GET /api/health: per profile, the certificate state (never secret material). Degraded when a
/// certificate expires within the warning window or the last refresh failed; unhealthy (503) when a
/// profile cannot make calls.
/// </summary>
public sealed class HealthEndpoint(CertificateStore certificates, CallerAuthenticator callers, InvokerOptions options, TimeProvider time)
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
        foreach (var entry in certificates.All.OrderBy(p => p.Profile.Name, StringComparer.Ordinal))
        {
            var (status, report) = Report(entry, now);
            profiles[entry.Profile.Name] = report;
            overall = Worse(overall, status);
        }
        var body = new JsonObject { ["status"] = overall, ["checkedAt"] = now, ["profiles"] = profiles };
        return Results.Json(body, statusCode: overall == Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    private (string Status, JsonObject Report) Report(ProfileCertificates entry, DateTimeOffset now)
    {
        var profile = entry.Profile;
        var state = entry.State;
        var reasons = new JsonArray();
        var status = Healthy;
        var certificate = new JsonObject
        {
            ["configured"] = profile.ClientCertificate is not null,
            ["source"] = profile.ClientCertificate?.Description,
        };
        if (profile.ClientCertificate is not null)
        {
            var client = state.Material?.Client;
            certificate["loaded"] = client is not null;
            if (client is null)
            {
                status = Unhealthy;
                reasons.Add("the client certificate is not loaded");
            }
            else
            {
                var daysLeft = (client.NotAfter - now).TotalDays;
                certificate["subject"] = client.Subject;
                certificate["thumbprintSha256"] = client.ThumbprintSha256;
                certificate["version"] = client.SourceVersion;
                certificate["notAfter"] = client.NotAfter;
                certificate["daysLeft"] = Math.Floor(daysLeft);
                if (daysLeft <= 0)
                {
                    status = Unhealthy;
                    reasons.Add("the client certificate has expired");
                }
                else if (daysLeft <= options.ExpiryWarningDays)
                {
                    status = Worse(status, Degraded);
                    reasons.Add($"the client certificate expires in {Math.Floor(daysLeft)} days (warning window {options.ExpiryWarningDays})");
                }
            }
        }
        if (profile.TrustedCa is not null && state.Material?.TrustedCa is null)
        {
            status = Unhealthy;
            reasons.Add("the trusted CA is not loaded");
        }
        if (state.LastError is not null)
        {
            status = Worse(status, Degraded);
            reasons.Add("the last refresh failed");
        }
        certificate["lastRefresh"] = state.LastRefresh;
        certificate["nextRefresh"] = state.NextRefresh;
        certificate["lastError"] = state.LastError;
        var report = new JsonObject
        {
            ["status"] = status,
            ["hosts"] = new JsonArray(profile.Hosts.Select(h => (JsonNode)h.ToString()).ToArray()),
            ["certificate"] = certificate,
            ["trustedCa"] = profile.TrustedCa?.Description,
            ["reasons"] = reasons,
        };
        return (status, report);
    }

    private static string Worse(string a, string b) =>
        a == Unhealthy || b == Unhealthy ? Unhealthy : a == Degraded || b == Degraded ? Degraded : Healthy;
}
