using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Functions;

/// <summary>The HTTP functions. The Functions host checks function keys before these run.</summary>
public sealed class InvokerFunctions(InvokerApi api)
{
    [Function("Invoke")]
    public Task<IResult> Invoke([HttpTrigger(AuthorizationLevel.Function, "post", Route = "invoke")] HttpRequest request) =>
        api.InvokeAsync(request.HttpContext);

    /// <summary>Forward mode: a catch-all route, so <c>/api/forward/{profile}</c> and everything under it reach the profile's BaseUrl.</summary>
    [Function("Forward")]
    public Task<IResult> Forward(
        [HttpTrigger(AuthorizationLevel.Function, "get", "head", "post", "put", "patch", "delete", "options", Route = "forward/{profile}/{*path}")] HttpRequest request,
        string profile) =>
        api.ForwardAsync(request.HttpContext, profile);

    [Function("Health")]
    public Task<IResult> Health([HttpTrigger(AuthorizationLevel.Function, "get", Route = "health")] HttpRequest request) =>
        api.HealthAsync(request.HttpContext);

    /// <summary>The mutual-TLS probe: admin level (the master key).</summary>
    [Function("Probe")]
    public Task<IResult> Probe([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "profiles/{name}/probe")] HttpRequest request, string name) =>
        api.ProbeAsync(request.HttpContext, name);

    /// <summary>The effective configuration of every profile and the callers: admin level (the master key).</summary>
    [Function("Profiles")]
    public Task<IResult> Profiles([HttpTrigger(AuthorizationLevel.Admin, "get", Route = "profiles")] HttpRequest request) =>
        api.ProfilesAsync(request.HttpContext);

    /// <summary>Re-reads a profile's certificates now: admin level (the master key).</summary>
    [Function("RefreshProfile")]
    public Task<IResult> RefreshProfile([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "profiles/{name}/refresh")] HttpRequest request, string name) =>
        api.RefreshProfileAsync(request.HttpContext, name);

    /// <summary>Reads the configuration again now and applies it when start-up would accept it: admin level (the master key).</summary>
    [Function("ReloadConfiguration")]
    public Task<IResult> ReloadConfiguration([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "configuration/reload")] HttpRequest request) =>
        api.ReloadConfigurationAsync(request.HttpContext);
}
