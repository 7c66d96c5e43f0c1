using ServiceNodeInvoker.Primitives;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Callers;

/// <summary>The outcome of authenticating a caller. <see cref="Caller"/> is null for an unnamed caller (a function key).</summary>
internal readonly record struct CallerResult(bool Authenticated, string? Caller, string? Problem)
{
    public static CallerResult Accept(string? caller) => new(true, caller, null);
    public static CallerResult Refuse(string problem) => new(false, null, problem);
}

/// <summary>Applies the caller mode: key only, certificate required, or key or certificate.</summary>
/// <remarks>The mode is start-up's (it decides whether the listener asks for certificates); keys are those in force now.</remarks>
internal sealed class CallerAuthenticator(LiveCallerOptions options, ApiKeyAuthenticator keys, CallerCertificates certificates, InvokerHostInfo hostInfo)
{
    private readonly InvokerHostKind host = hostInfo.Kind;
    private readonly CallerMode _mode = options.Current.Mode;
    private readonly ApiKeyAuthenticator _admins = new(options, o => o.AdminKeys, "Invoker:Callers:AdminKeys");

    public Task<CallerResult> AuthenticateInvocationAsync(HttpContext context) =>
        AuthenticateCoreAsync(context, allowKey: _mode != CallerMode.CertificateRequired);

    /// <summary>Administrative endpoints (the probe): an admin key; on Azure the Functions host checks the admin level.</summary>
    public CallerResult AuthenticateAdmin(HttpContext context) =>
        host == InvokerHostKind.Functions ? CallerResult.Accept(null)
        : _admins.Authenticate(context) is { } admin ? CallerResult.Accept(admin)
        : CallerResult.Refuse("the probe needs an admin key (Invoker:Callers:AdminKeys) in the 'x-functions-key' header");

    /// <summary>Health needs no caller certificate (probes cannot present one), only a key.</summary>
    /// <remarks>Any key works: a caller's API key or, on the standalone host, an admin key.</remarks>
    public Task<CallerResult> AuthenticateHealthAsync(HttpContext context) =>
        host == InvokerHostKind.Standalone && _admins.Authenticate(context) is { } admin
            ? Task.FromResult(CallerResult.Accept(admin))
            : AuthenticateCoreAsync(context, allowKey: true);

    private async Task<CallerResult> AuthenticateCoreAsync(HttpContext context, bool allowKey)
    {
        if (_mode != CallerMode.KeyOnly)
        {
            var certificate = certificates.Presented(context, out var problem);
            if (certificate is not null)
            {
                var (caller, why) = await certificates.IdentifyAsync(certificate, CallerCertificates.PresentedIntermediates(context));
                // A presented but unacceptable certificate is refused even where a key would do: it is a misconfiguration to fix.
                return caller is not null ? CallerResult.Accept(caller) : CallerResult.Refuse(why!);
            }
            if (problem is not null)
            {
                return CallerResult.Refuse(problem);
            }
            if (!allowKey)
            {
                return CallerResult.Refuse("a client certificate is required (Invoker:Callers:Mode is CertificateRequired)");
            }
        }
        if (host == InvokerHostKind.Functions)
        {
            return CallerResult.Accept(null); // the Functions host has checked the function key
        }
        return keys.Authenticate(context) is { } name
            ? CallerResult.Accept(name)
            : CallerResult.Refuse($"send a valid API key in the '{ApiKeyAuthenticator.HeaderName}' header or the '{ApiKeyAuthenticator.QueryName}' query parameter");
    }
}
