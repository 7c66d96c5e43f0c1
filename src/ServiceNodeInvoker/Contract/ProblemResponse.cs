using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Contract;

/// <summary>
/// RFC 9457 problem+json replies with the stable <c>code</c> and a <c>traceId</c>, each marked with the
/// <see cref="InvokerHeaders.Error"/> header (its code) whatever the route: every invoker error can be told from a
/// backend's own answer by its headers alone.
/// </summary>
internal static class ProblemResponse
{
    public const string TypePrefix = "urn:service-node-invoker:error:";

    public static IResult From(InvokerException error, HttpContext context)
    {
        var problem = Create(error.Code, error.Message, error.Field, context, error.Cause, error.TokenError);
        return error.RetryAfterSeconds is { } seconds ? new WithRetryAfter(problem, seconds) : problem;
    }

    /// <summary>A problem with a Retry-After header (503 busy).</summary>
    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(context);
        }
    }

    /// <param name="cause">The failure classifier's cause (FailureCauses), when it found one.</param>
    /// <param name="tokenError">token-unavailable: the token endpoint's RFC 6749 error code.</param>
    public static IResult Create(string code, string detail, string? field, HttpContext context, string? cause = null, string? tokenError = null)
    {
        var extensions = new Dictionary<string, object?>
        {
            ["code"] = code,
            ["traceId"] = TraceId(context),
        };
        if (field is not null)
        {
            extensions["field"] = field;
        }
        if (cause is not null)
        {
            extensions["cause"] = cause;
        }
        if (tokenError is not null)
        {
            extensions["tokenError"] = tokenError;
        }
        return new Marked(TypedResults.Problem(detail, statusCode: ErrorCodes.StatusOf(code), title: ErrorCodes.TitleOf(code),
            type: TypePrefix + code, extensions: extensions), code);
    }

    /// <summary>A problem with its invoker-error header.</summary>
    private sealed class Marked(IResult inner, string code) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers[InvokerHeaders.Error] = code;
            return inner.ExecuteAsync(context);
        }
    }

    public static string TraceId(HttpContext context) =>
        Activity.Current is { } activity ? activity.TraceId.ToHexString() : context.TraceIdentifier;
}
