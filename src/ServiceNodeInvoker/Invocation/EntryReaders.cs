using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Invocation;

/// <summary>/api/invoke: the JSON invocation request (the contract's body), read within MaxRequestBytes and the request limits.</summary>
internal sealed class InvokeEntryReader(RequestLimits limits) : IEntryReader
{
    // Made once: a lambda written in the call captured this reader and was allocated on every request.
    private readonly Func<InvokerException> _tooLarge =
        () => InvokerException.Invalid("$", $"The request body is larger than {limits.MaxRequestBytes} bytes.");

    public async ValueTask<InvocationRequest> ReadAsync(HttpContext context, string? routeProfile)
    {
        using var body = await BoundedBody.ReadAsync(context.Request.Body, context.Request.ContentLength, limits.MaxRequestBytes,
            _tooLarge, context.RequestAborted);
        return InvocationRequestParser.Parse(body.Memory, limits);
    }
}

/// <summary>
/// <c>/api/forward/{profile}/{**path}</c>: the caller's own request. Its method, end-to-end headers (by the
/// header policy) and body (streamed, never buffered) go to the profile's BaseUrl + path + query; the answer is
/// streamed back (forward mode).
/// </summary>
internal sealed class ForwardEntryReader(ProfileCatalog catalog, RequestLimits limits) : IEntryReader
{
    public ValueTask<InvocationRequest> ReadAsync(HttpContext context, string? routeProfile)
    {
        var profile = catalog.Named(routeProfile ?? "");
        if (profile.BaseUrl is null)
        {
            throw new InvokerException(ErrorCodes.ForwardNotConfigured,
                $"Profile '{profile.Name}' has no BaseUrl, so it cannot be used in forward mode (set Invoker:Profiles:{profile.Name}:BaseUrl).", "profile");
        }
        var http = context.Request;
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (http.PathBase + http.Path + http.QueryString).ToString();
        var url = ForwardTarget.Build(profile.BaseUrl, raw, profile.Name);
        TimeSpan? timeout = null;
        if (http.Headers.TryGetValue(InvokerHeaders.Timeout, out var timeoutValue))
        {
            if (!double.TryParse(timeoutValue.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                || !(seconds > 0) || seconds > TlsProfile.MaxTimeoutSeconds)
            {
                throw InvokerException.Invalid(InvokerHeaders.Timeout,
                    $"{InvokerHeaders.Timeout} must be a number of seconds above 0 and at most {TlsProfile.MaxTimeoutSeconds}.");
            }
            timeout = TimeSpan.FromSeconds(seconds);
        }
        HttpContent? body = null;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? http.ContentLength > 0)
        {
            if (http.ContentLength > limits.MaxRequestBytes)
            {
                throw InvokerException.Invalid("body", $"The request body is larger than {limits.MaxRequestBytes} bytes (MaxRequestBytes).");
            }
            body = new StreamContent(new ForwardRequestBody(http.Body, limits.MaxRequestBytes), 64 * 1024);
            body.Headers.ContentLength = http.ContentLength; // as the caller framed it; chunked when it did not say
        }
        return ValueTask.FromResult(new InvocationRequest
        {
            Profile = profile.Name,
            Method = HttpMethod.Parse(http.Method),
            Url = url,
            Headers = HeaderPolicy.ForwardedFromCaller(http.Headers, profile.ForwardCallerHeaders),
            StreamedBody = body,
            Timeout = timeout,
            Response = ResponseMode.Forward,
        });
    }
}
