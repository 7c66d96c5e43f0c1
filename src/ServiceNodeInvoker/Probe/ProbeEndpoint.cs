using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Probe;

/// <summary>POST /api/profiles/{name}/probe (admin only): the mutual-TLS probe of every host the profile owns.</summary>
public sealed class ProbeEndpoint(ProfileCatalog catalog, MutualTlsProbe probe, CallerAuthenticator callers, ApiKeyAuthenticator callerKeys)
{
    public async Task<IResult> HandleAsync(HttpContext context, string name)
    {
        var admin = callers.AuthenticateAdmin(context);
        if (!admin.Authenticated)
        {
            // A caller's own key is known but not enough: say so rather than "not authenticated".
            return callerKeys.Authenticate(context) is { } caller
                ? ProblemResponse.Create(ErrorCodes.Forbidden,
                    $"The key of caller '{caller}' may call /api/invoke but not the probe: it needs an admin key (Invoker:Callers:AdminKeys).", null, context)
                : ProblemResponse.Create(ErrorCodes.Unauthenticated, $"Not authenticated: {admin.Problem}.", null, context);
        }
        var profile = catalog.Find(name);
        if (profile is null)
        {
            return ProblemResponse.Create(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile", context);
        }
        var report = await probe.ProbeAsync(profile, context.RequestAborted);
        return Results.Json(report, statusCode: StatusCodes.Status200OK);
    }
}
