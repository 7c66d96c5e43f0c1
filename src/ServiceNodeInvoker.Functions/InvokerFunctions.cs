using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Functions;

/// <summary>The HTTP functions. The Functions host checks function keys before these run.</summary>
public sealed class InvokerFunctions(InvokeEndpoint invoke, ForwardEndpoint forward, HealthEndpoint health, ProbeEndpoint probe, ProfilesEndpoint profiles)
{
    [Function("Invoke")]
    public Task<IResult> Invoke([HttpTrigger(AuthorizationLevel.Function, "post", Route = "invoke")] HttpRequest request) =>
        invoke.HandleAsync(request.HttpContext);

    /// <summary>Forward mode: a catch-all route, so <c>/api/forward/{profile}</c> and everything under it reach the profile's BaseUrl.</summary>
    [Function("Forward")]
    public Task<IResult> Forward(
        [HttpTrigger(AuthorizationLevel.Function, "get", "head", "post", "put", "patch", "delete", "options", Route = "forward/{profile}/{*path}")] HttpRequest request,
        string profile) =>
        forward.HandleAsync(request.HttpContext, profile);

    [Function("Health")]
    public Task<IResult> Health([HttpTrigger(AuthorizationLevel.Function, "get", Route = "health")] HttpRequest request) =>
        health.HandleAsync(request.HttpContext);

    /// <summary>The mutual-TLS probe: admin level (the master key).</summary>
    [Function("Probe")]
    public Task<IResult> Probe([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "profiles/{name}/probe")] HttpRequest request, string name) =>
        probe.HandleAsync(request.HttpContext, name);

    /// <summary>The effective configuration of every profile and the callers: admin level (the master key).</summary>
    [Function("Profiles")]
    public Task<IResult> Profiles([HttpTrigger(AuthorizationLevel.Admin, "get", Route = "profiles")] HttpRequest request) =>
        profiles.ListAsync(request.HttpContext);

    /// <summary>Re-reads a profile's certificates now: admin level (the master key).</summary>
    [Function("RefreshProfile")]
    public Task<IResult> RefreshProfile([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "profiles/{name}/refresh")] HttpRequest request, string name) =>
        profiles.RefreshAsync(request.HttpContext, name);
}
