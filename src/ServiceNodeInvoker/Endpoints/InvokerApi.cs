using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// Everything a host maps: the invoker's HTTP API, one method per route. The Functions triggers and the
/// standalone host's routes are one line each over this; the endpoints behind it stay internal.
/// </summary>
public sealed class InvokerApi
{
    private readonly InvokeEndpoint _invoke;
    private readonly ForwardEndpoint _forward;
    private readonly HealthEndpoint _health;
    private readonly ProbeEndpoint _probe;
    private readonly ProfilesEndpoint _profiles;
    private readonly ConfigurationEndpoint _configuration;
    private readonly CallerOptions _callers;
    private readonly ApiKeyAuthenticator _keys;

    internal InvokerApi(InvokeEndpoint invoke, ForwardEndpoint forward, HealthEndpoint health, ProbeEndpoint probe, ProfilesEndpoint profiles,
        ConfigurationEndpoint configuration, CallerOptions callers, ApiKeyAuthenticator keys)
    {
        _configuration = configuration;
        _invoke = invoke;
        _forward = forward;
        _health = health;
        _probe = probe;
        _profiles = profiles;
        _callers = callers;
        _keys = keys;
    }

    /// <summary>The methods <c>/api/forward/{profile}/{**path}</c> takes.</summary>
    public static IReadOnlyList<string> ForwardMethods => InvocationMethods.Names;

    /// <summary><c>POST /api/invoke</c>.</summary>
    public Task<IResult> InvokeAsync(HttpContext context) => _invoke.HandleAsync(context);

    /// <summary><c>/api/forward/{profile}/{**path}</c>, every method of <see cref="ForwardMethods"/>.</summary>
    public Task<IResult> ForwardAsync(HttpContext context, string profile) => _forward.HandleAsync(context, profile);

    /// <summary><c>GET /api/health</c>.</summary>
    public Task<IResult> HealthAsync(HttpContext context) => _health.HandleAsync(context);

    /// <summary><c>POST /api/profiles/{name}/probe</c> (admin).</summary>
    public Task<IResult> ProbeAsync(HttpContext context, string name) => _probe.HandleAsync(context, name);

    /// <summary><c>GET /api/profiles</c> (admin).</summary>
    public Task<IResult> ProfilesAsync(HttpContext context) => _profiles.ListAsync(context);

    /// <summary><c>POST /api/profiles/{name}/refresh</c> (admin).</summary>
    public Task<IResult> RefreshProfileAsync(HttpContext context, string name) => _profiles.RefreshAsync(context, name);

    /// <summary><c>POST /api/configuration/reload</c> (admin): reads the configuration again now and applies it when start-up would accept it.</summary>
    public Task<IResult> ReloadConfigurationAsync(HttpContext context) => _configuration.ReloadAsync(context);

    /// <summary>The problem reply for a known route called with a method it does not take (the status-code page of a 405).</summary>
    public static IResult MethodNotAllowed(HttpContext context)
    {
        var allowed = context.Response.Headers.Allow.ToString();
        return ProblemResponse.Create(ErrorCodes.MethodNotAllowed,
            $"{context.Request.Path} does not take {context.Request.Method}" + (allowed.Length > 0 ? $": use {allowed}." : "."), null, context);
    }

    /// <summary>Standalone host: whether its HTTPS listener should ask callers for a certificate (Invoker:Callers:Mode is not KeyOnly).</summary>
    public bool RequestsCallerCertificates => _callers.Mode != CallerMode.KeyOnly;

    /// <summary>Standalone host: whether any API key is configured (without one, every call gets 401).</summary>
    public bool HasApiKeys => _keys.HasKeys;

    /// <summary>
    /// Standalone host: Kestrel's ClientCertificateValidation for a listener that asks for caller certificates.
    /// Accepts every certificate at the TLS layer (the caller check decides) and keeps the intermediates sent with it.
    /// </summary>
    public static bool AcceptCallerCertificate(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors) =>
        CallerCertificates.AcceptAndKeepIntermediates(certificate, chain, errors);

    /// <summary>The value an Invoker:Callers:ApiKeys or AdminKeys entry holds for a key: its SHA-256 in lowercase hex.</summary>
    public static string HashApiKey(string key) => ApiKeyAuthenticator.HashKey(key);
}
