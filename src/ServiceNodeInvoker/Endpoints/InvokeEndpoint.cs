using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// POST /api/invoke. Hosts (standalone, Azure Functions) call <see cref="HandleAsync"/> and return its
/// result. Callers are authenticated here, so both hosts apply the same caller mode.
/// </summary>
public sealed partial class InvokeEndpoint(
    Invoker invoker, CallerAuthenticator callers, InvokerTelemetry telemetry, InvokerOptions options, ILogger<InvokeEndpoint> logger)
{
    private readonly RequestLimits _limits = options.Limits;

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var record = telemetry.Begin();
        try
        {
            var result = await HandleCoreAsync(context, record);
            if (result is not IOwnsRecord)
            {
                record.Dispose(); // the results that stream own the record and end it when done
            }
            return result;
        }
        catch
        {
            record.Dispose();
            throw;
        }
    }

    private IResult Problem(InvokerException error, HttpContext context, InvocationRecord record)
    {
        record.Failed(error);
        return ProblemResponse.From(error, context);
    }

    private async Task<IResult> HandleCoreAsync(HttpContext context, InvocationRecord record)
    {
        var caller = await callers.AuthenticateInvocationAsync(context);
        if (!caller.Authenticated)
        {
            Log.Rejected(logger, ErrorCodes.Unauthenticated, null, caller.Problem!);
            return Problem(new InvokerException(ErrorCodes.Unauthenticated, $"The caller is not authenticated: {caller.Problem}."), context, record);
        }
        InvocationRequest request;
        try
        {
            using var body = await BoundedBody.ReadAsync(context.Request.Body, context.Request.ContentLength, options.MaxRequestBytes,
                () => InvokerException.Invalid("$", $"The request body is larger than {options.MaxRequestBytes} bytes."),
                context.RequestAborted);
            request = InvocationRequestReader.Parse(body.Memory, _limits);
        }
        catch (InvokerException e)
        {
            Log.Rejected(logger, e.Code, e.Field, e.Message);
            return Problem(e, context, record);
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            return Results.Empty; // the caller went away or broke the framing while sending
        }

        InvocationOutcome outcome;
        try
        {
            outcome = await invoker.SendAsync(request, caller.Caller, record, context.RequestAborted);
        }
        catch (InvokerException e)
        {
            if (e.Status < 500 || e.Code == ErrorCodes.CertificateUnavailable)
            {
                Log.Rejected(logger, e.Code, e.Field, e.Message);
            }
            return Problem(e, context, record);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty;
        }

        var limit = outcome.Profile.MaxResponseBytes;
        if (DeclaredBodyLength(outcome) > limit)
        {
            outcome.Dispose();
            return Problem(TooLarge(outcome.Profile, limit), context, record);
        }
        return request.Response == ResponseMode.Passthrough
            ? new PassthroughResult(outcome, record, logger)
            : await BufferEnvelopeAsync(outcome, context, record);
    }

    private async Task<IResult> BufferEnvelopeAsync(InvocationOutcome outcome, HttpContext context, InvocationRecord record)
    {
        try
        {
            var stream = await outcome.Response.Content.ReadAsStreamAsync(outcome.Token);
            var body = await BoundedBody.ReadAsync(stream, DeclaredBodyLength(outcome),
                outcome.Profile.MaxResponseBytes, () => TooLarge(outcome.Profile, outcome.Profile.MaxResponseBytes), outcome.Token);
            return new EnvelopeResult(outcome, body, outcome.Elapsed, record, logger);
        }
        catch (Exception e)
        {
            outcome.Dispose();
            if (context.RequestAborted.IsCancellationRequested)
            {
                return Results.Empty;
            }
            var error = e as InvokerException
                ?? (outcome.TimedOut ? Invoker.TimeoutError(outcome.Profile, outcome.Request)
                    : FailureClassifier.Classify(e, outcome.Profile, outcome.Request.Url, presentedClientCertificate: false));
            Log.Rejected(logger, error.Code, null, error.Message);
            return Problem(error, context, record);
        }
    }

    /// <summary>The body length the backend announced; a HEAD, 204 or 304 answer carries none, whatever its Content-Length says.</summary>
    private static long? DeclaredBodyLength(InvocationOutcome outcome) =>
        outcome.Request.Method == HttpMethod.Head || (int)outcome.Response.StatusCode is 204 or 304
            ? 0
            : outcome.Response.Content.Headers.ContentLength;

    private static InvokerException TooLarge(TlsProfile profile, long limit) =>
        new(ErrorCodes.ResponseTooLarge,
            $"The backend's response body is larger than {limit} bytes, the MaxResponseBytes of profile '{profile.Name}'.");

    /// <summary>A result that ends the invocation's telemetry itself, once it has written the reply.</summary>
    private interface IOwnsRecord;

    /// <summary>Writes the envelope from the buffered body, then releases everything.</summary>
    private sealed class EnvelopeResult(InvocationOutcome outcome, BoundedBody body, TimeSpan duration, InvocationRecord record, ILogger logger)
        : IResult, IOwnsRecord
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            using (record)
            using (outcome)
            using (body)
            {
                record.Answered((int)outcome.Response.StatusCode, outcome.Transport.ProtocolFor(outcome.Request.Url)?.ToString(), duration);
                // Built in a pooled buffer first: one write with a Content-Length, no chunked framing.
                using var envelope = new PooledBufferWriter(body.Memory.Length * 4 / 3 + 1024);
                using (var writer = new Utf8JsonWriter(envelope))
                {
                    EnvelopeWriter.Write(writer, outcome, body.Memory.Span, duration);
                }
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json; charset=utf-8";
                context.Response.ContentLength = envelope.WrittenMemory.Length;
                Log.Completed(logger, outcome.Profile.Name, outcome.Request.Method.Method, HostKey.FromUri(outcome.Request.Url).ToString(),
                    (int)outcome.Response.StatusCode, duration.TotalMilliseconds, "envelope");
                await context.Response.Body.WriteAsync(envelope.WrittenMemory, context.RequestAborted);
            }
        }
    }

    /// <summary>Streams the backend's status, end-to-end headers and body; never buffers the body.</summary>
    private sealed class PassthroughResult(InvocationOutcome outcome, InvocationRecord record, ILogger logger) : IResult, IOwnsRecord
    {
        public const string DurationHeader = "invoker-duration-ms";

        public async Task ExecuteAsync(HttpContext context)
        {
            using (record)
            using (outcome)
            {
                record.Answered((int)outcome.Response.StatusCode, outcome.Transport.ProtocolFor(outcome.Request.Url)?.ToString(), outcome.Elapsed);
                var response = context.Response;
                response.StatusCode = (int)outcome.Response.StatusCode;
                foreach (var (name, values) in ResponseHeaders.EndToEnd(outcome.Response))
                {
                    response.Headers.Append(name, values.ToArray());
                }
                response.Headers[DurationHeader] = outcome.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                long copied = 0;
                var limit = outcome.Profile.MaxResponseBytes;
                try
                {
                    await using var source = await outcome.Response.Content.ReadAsStreamAsync(outcome.Token);
                    var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
                    try
                    {
                        int read;
                        while ((read = await source.ReadAsync(buffer, outcome.Token)) > 0)
                        {
                            copied += read;
                            if (copied > limit)
                            {
                                // Headers are gone already: cutting the connection is the only honest signal left.
                                Log.PassthroughCut(logger, outcome.Profile.Name, $"the body exceeded MaxResponseBytes ({limit})");
                                record.Cut("response-too-large");
                                context.Abort();
                                return;
                            }
                            await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                        }
                    }
                    finally
                    {
                        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
                {
                    record.Cut(outcome.TimedOut ? "timeout" : "stream-broken");
                    Log.PassthroughCut(logger, outcome.Profile.Name,
                        outcome.TimedOut ? "the timeout passed while streaming" : context.RequestAborted.IsCancellationRequested
                            ? "the caller went away" : $"the backend connection broke ({e.GetType().Name})");
                    context.Abort();
                    return;
                }
                Log.Completed(logger, outcome.Profile.Name, outcome.Request.Method.Method, HostKey.FromUri(outcome.Request.Url).ToString(),
                    (int)outcome.Response.StatusCode, outcome.Elapsed.TotalMilliseconds, "passthrough");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Information, "Invoked profile {Profile} {Method} {Target} → {Status} in {DurationMs:0.0} ms ({Mode}).")]
        public static partial void Completed(ILogger logger, string profile, string method, string target, int status, double durationMs, string mode);

        [LoggerMessage(3002, LogLevel.Information, "Invocation rejected: {Code} (field {Field}): {Reason}")]
        public static partial void Rejected(ILogger logger, string code, string? field, string reason);

        [LoggerMessage(3003, LogLevel.Warning, "Passthrough for profile {Profile} cut short: {Reason}.")]
        public static partial void PassthroughCut(ILogger logger, string profile, string reason);
    }
}
