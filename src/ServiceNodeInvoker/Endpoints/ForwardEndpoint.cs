using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// <c>/api/forward/{profile}/{**path}</c>: the caller uses our URL in place of the backend's. The
/// caller's method, end-to-end headers and body (streamed) go to the profile's BaseUrl + path + query;
/// the backend's status, headers and body come back streamed (<see cref="PassthroughResult"/>). Callers
/// authenticate as for /api/invoke; invoker errors are the same problem+json, marked by
/// <see cref="ErrorHeader"/> so they cannot be mistaken for the backend's own.
/// </summary>
public sealed class ForwardEndpoint(
    Invoker invoker, CallerAuthenticator callers, InvokerTelemetry telemetry, InvokerOptions options, ProfileCatalog catalog,
    ILogger<ForwardEndpoint> logger)
{
    /// <summary>On every invoker error in forward mode: its code.</summary>
    public const string ErrorHeader = "invoker-error";

    /// <summary>Lowers the profile's timeout for this call (seconds).</summary>
    public const string TimeoutHeader = "invoker-timeout";

    public static readonly string[] Methods = InvocationMethods.Names;

    public Task<IResult> HandleAsync(HttpContext context, string profileName) =>
        InvocationSteps.WithRecordAsync(telemetry, record => HandleCoreAsync(context, profileName, record));

    private async Task<IResult> HandleCoreAsync(HttpContext context, string profileName, InvocationRecord record)
    {
        var (caller, refusal) = await InvocationSteps.AuthenticateAsync(callers, context, record, logger);
        if (refusal is not null)
        {
            return refusal;
        }
        InvocationRequest request;
        try
        {
            request = Read(context, catalog.ForForward(profileName));
        }
        catch (InvokerException e)
        {
            return InvocationSteps.Rejected(e, context, record, logger);
        }
        var (outcome, failure) = await InvocationSteps.SendAsync(invoker, request, caller.Caller, context, record, logger);
        return outcome is null ? failure! : new PassthroughResult(outcome, record, logger, forward: true);
    }

    /// <summary>The invocation the caller's request describes: target, method, headers, timeout and streamed body.</summary>
    private InvocationRequest Read(HttpContext context, TlsProfile profile)
    {
        var http = context.Request;
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (http.PathBase + http.Path + http.QueryString).ToString();
        var url = ForwardTarget.Build(profile.BaseUrl!, raw, profile.Name);
        var method = HttpMethod.Parse(http.Method);
        TimeSpan? timeout = null;
        if (http.Headers.TryGetValue(TimeoutHeader, out var timeoutValue))
        {
            if (!double.TryParse(timeoutValue.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                || !(seconds > 0) || seconds > TlsProfile.MaxTimeoutSeconds)
            {
                throw InvokerException.Invalid(TimeoutHeader, $"{TimeoutHeader} must be a number of seconds above 0 and at most {TlsProfile.MaxTimeoutSeconds}.");
            }
            timeout = TimeSpan.FromSeconds(seconds);
        }
        var headers = new List<KeyValuePair<string, string[]>>(http.Headers.Count);
        var connectionListed = HeaderPolicy.NamesListedInConnection(http.Headers.Connection);
        foreach (var (name, values) in http.Headers)
        {
            if (HeaderPolicy.IsHopByHop(name) || HeaderPolicy.IsNotForwarded(name) || connectionListed?.Contains(name) == true
                || (HeaderPolicy.IsAboutTheCaller(name) && !profile.ForwardCallerHeaders.Contains(name)))
            {
                continue;
            }
            headers.Add(new(name, values.ToArray()!));
        }
        HttpContent? body = null;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? http.ContentLength > 0)
        {
            if (http.ContentLength > options.MaxRequestBytes)
            {
                throw InvokerException.Invalid("body", $"The request body is larger than {options.MaxRequestBytes} bytes (MaxRequestBytes).");
            }
            body = new StreamContent(new ForwardRequestBody(http.Body, options.MaxRequestBytes), 64 * 1024);
            body.Headers.ContentLength = http.ContentLength; // as the caller framed it; chunked when it did not say
        }
        return new InvocationRequest
        {
            Profile = profile.Name,
            Method = method,
            Url = url,
            Headers = headers,
            StreamedBody = body,
            Timeout = timeout,
            Response = ResponseMode.Passthrough,
        };
    }
}
