using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Probe;

/// <summary>POST /api/profiles/{name}/probe (admin only): the mutual-TLS probe of every host the profile owns.</summary>
public sealed class ProbeEndpoint(ProfileCatalog catalog, MutualTlsProbe probe, CallerAuthenticator callers)
{
    public async Task<IResult> HandleAsync(HttpContext context, string name)
    {
        var admin = callers.AuthenticateAdmin(context);
        if (!admin.Authenticated)
        {
            return ProblemResponse.Create(ErrorCodes.Unauthenticated, $"Not authenticated: {admin.Problem}.", null, context);
        }
        var profile = catalog.Profiles.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        if (profile is null)
        {
            return ProblemResponse.Create(ErrorCodes.UnknownProfile, $"No profile is named '{name}'.", "profile", context);
        }
        var report = await probe.ProbeAsync(profile, context.RequestAborted);
        return Results.Json(report, statusCode: StatusCodes.Status200OK);
    }
}
