using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Callers;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// Who may use the admin endpoints (the probe, the effective configuration, a refresh on demand): an
/// admin key on the standalone host; on Azure the Functions host has checked the master key. A caller's
/// own key is known but not enough (403); anything else is not authenticated (401).
/// </summary>
internal sealed class AdminAccess(CallerAuthenticator callers, ApiKeyAuthenticator callerKeys)
{
    /// <summary>The refusal for this request, or null when an admin calls.</summary>
    /// <param name="what">The endpoint, as the refusal names it ("the probe").</param>
    public IResult? Refusal(HttpContext context, string what)
    {
        var admin = callers.AuthenticateAdmin(context);
        if (admin.Authenticated)
        {
            return null;
        }
        return callerKeys.Authenticate(context) is { } caller
            ? ProblemResponse.Create(ErrorCodes.Forbidden,
                $"The key of caller '{caller}' may call /api/invoke but not {what}: it needs an admin key (Invoker:Callers:AdminKeys).", null, context)
            : ProblemResponse.Create(ErrorCodes.Unauthenticated, $"Not authenticated: {what} needs an admin key (Invoker:Callers:AdminKeys) in the 'x-functions-key' header.", null, context);
    }
}
