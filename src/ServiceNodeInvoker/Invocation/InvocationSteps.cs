using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// The steps /api/invoke and /api/forward share, each mapping its failures to a reply in one place:
/// the invocation record's lifetime, the caller check, the send, and the declared-length check.
/// Every problem reply carries <see cref="ForwardEndpoint.ErrorHeader"/>, so a passthrough or forward
/// caller can tell it from the backend's own answer without reading the body.
/// </summary>
internal static class InvocationSteps
{
    /// <summary>A result that ends the invocation's telemetry itself, once it has written the reply.</summary>
    internal interface IOwnsRecord;

    /// <summary>Runs an endpoint with its record: ended here, unless the result streams and owns it.</summary>
    public static async Task<IResult> WithRecordAsync(InvokerTelemetry telemetry, Func<InvocationRecord, Task<IResult>> handle)
    {
        var record = telemetry.Begin();
        try
        {
            var result = await handle(record);
            if (result is not IOwnsRecord)
            {
                record.Dispose();
            }
            return result;
        }
        catch
        {
            record.Dispose();
            throw;
        }
    }

    public static IResult Problem(InvokerException error, HttpContext context, InvocationRecord record)
    {
        record.Failed(error);
        context.Response.Headers[ForwardEndpoint.ErrorHeader] = error.Code;
        return ProblemResponse.From(error, context);
    }

    public static IResult Rejected(InvokerException error, HttpContext context, InvocationRecord record, ILogger logger)
    {
        InvokeEndpoint.Log.Rejected(logger, error.Code, LogText.Escape(error.Field ?? "-"), LogText.Escape(error.Message));
        return Problem(error, context, record);
    }

    /// <summary>The caller, or the 401 that refuses it.</summary>
    public static async Task<(CallerResult Caller, IResult? Refusal)> AuthenticateAsync(
        CallerAuthenticator callers, HttpContext context, InvocationRecord record, ILogger logger)
    {
        var caller = await callers.AuthenticateInvocationAsync(context);
        if (caller.Authenticated)
        {
            return (caller, null);
        }
        InvokeEndpoint.Log.Rejected(logger, ErrorCodes.Unauthenticated, "-", LogText.Escape(caller.Problem));
        return (caller, Problem(new InvokerException(ErrorCodes.Unauthenticated, $"The caller is not authenticated: {caller.Problem}."), context, record));
    }

    /// <summary>Sends, up to the backend's response headers; an invoker error, the caller going away or a body declared too large is the reply instead.</summary>
    public static async Task<(InvocationOutcome? Outcome, IResult? Failure)> SendAsync(
        Invoker invoker, InvocationRequest request, string? caller, HttpContext context, InvocationRecord record, ILogger logger)
    {
        InvocationOutcome outcome;
        try
        {
            outcome = await invoker.SendAsync(request, caller, record, context.RequestAborted);
        }
        catch (InvokerException e)
        {
            // The invoker has logged backend failures itself; refusals and missing certificates are logged here.
            return (null, e.Status < 500 || e.Code == ErrorCodes.CertificateUnavailable
                ? Rejected(e, context, record, logger)
                : Problem(e, context, record));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            record.Cut("caller-gone");
            context.Abort();
            return (null, Results.Empty);
        }
        if (outcome.DeclaredBodyLength > outcome.Profile.MaxResponseBytes)
        {
            outcome.Dispose();
            return (null, Problem(TooLarge(outcome.Profile), context, record));
        }
        return (outcome, null);
    }

    public static InvokerException TooLarge(TlsProfile profile) =>
        new(ErrorCodes.ResponseTooLarge,
            $"The backend's response body is larger than {profile.MaxResponseBytes} bytes, the MaxResponseBytes of profile '{profile.Name}'.");
}
