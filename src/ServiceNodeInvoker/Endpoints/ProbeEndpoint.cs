using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Probe;
using ServiceNodeInvoker.Profiles;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>POST /api/profiles/{name}/probe (admin only): the mutual-TLS probe of every host the profile owns.</summary>
internal sealed class ProbeEndpoint(ProfileCatalog catalog, MutualTlsProbe probe, AdminAccess admins)
{
    public async Task<IResult> HandleAsync(HttpContext context, string name)
    {
        if (admins.Refusal(context, "the probe") is { } refusal)
        {
            return refusal;
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
