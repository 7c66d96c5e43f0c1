using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Every failure of an invocation becomes its reply here, and nowhere else — the pipeline's (steps 1–6) and a mode's
/// (while it reads the backend's body): an invoker error is a problem+json reply with <see cref="InvokerHeaders.Error"/>
/// (a passthrough or forward caller tells it from the backend's own answer without reading the body); a request whose
/// framing is broken gets the status the server itself gives; a caller that went away gets nothing (a cut connection,
/// never an empty 200). Each is logged once, here, and ends the invocation's telemetry as failed or cut.
/// </summary>
internal sealed class InvocationFailures(ILogger logger)
{
    /// <summary>A failure with no backend answer to blame: the caller, its request, the profile, grant, certificate or token.</summary>
    public IResult Reply(Exception e, HttpContext context, InvocationRecord record)
    {
        switch (e)
        {
            case InvokerException error:
                InvocationLog.Rejected(logger, error.Code, LogText.Escape(error.Field ?? "-"), LogText.Escape(error.Message));
                return Problem(error, context, record);
            case BadHttpRequestException framing:
                // Broken framing (a bad chunk size, a body that stops short of its Content-Length and stalls).
                InvocationLog.BrokenRequest(logger, framing.StatusCode, LogText.Escape(framing.Message));
                record.Cut("request-framing");
                return Results.StatusCode(framing.StatusCode);
            case IOException or OperationCanceledException:
                // The caller went away (while sending, or while we waited).
                return CallerGone(context, record);
            default:
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
                return null!;
        }
    }

    /// <summary>A failed exchange with the backend (steps 5–6), logged with its profile, target and duration.</summary>
    public IResult Backend(InvokerException error, TlsProfile profile, InvocationRequest request, HostKey target, TimeSpan elapsed,
        HttpContext context, InvocationRecord record)
    {
        InvocationLog.Failed(logger, profile.Name, request.Method.Method, target.ToString(), error.Code, elapsed.TotalMilliseconds, LogText.Escape(error.Message));
        return Problem(error, context, record);
    }

    /// <summary>The caller went away: nothing to answer.</summary>
    public IResult CallerGone(HttpContext context, InvocationRecord record)
    {
        record.Cut("caller-gone");
        context.Abort();
        return Results.Empty;
    }

    /// <summary>A reply that had started to stream broke off: cutting the connection is the only honest signal left.</summary>
    public void Cut(HttpContext context, InvocationRecord record, string profile, string cut, string reason)
    {
        record.Cut(cut);
        InvocationLog.PassthroughCut(logger, profile, reason);
        context.Abort();
    }

    private static IResult Problem(InvokerException error, HttpContext context, InvocationRecord record)
    {
        record.Failed(error);
        return ProblemResponse.From(error, context);
    }
}
