using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Telemetry;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// POST /api/invoke. Hosts (standalone, Azure Functions) call <see cref="HandleAsync"/> and return its
/// result. Callers are authenticated here, so both hosts apply the same caller mode.
/// </summary>
public sealed partial class InvokeEndpoint(
    Invoker invoker, CallerAuthenticator callers, InvokerTelemetry telemetry, InvokerOptions options, ResponseBufferBudget budget,
    ILogger<InvokeEndpoint> logger)
{
    public const string DurationHeader = "invoker-duration-ms";

    /// <summary>Passthrough of a HEAD, 204 or 304 answer: the backend's Content-Length (our reply to the POST has no body).</summary>
    public const string BackendContentLengthHeader = "invoker-backend-content-length";

    private readonly RequestLimits _limits = options.Limits;

    /// <summary>What an envelope of a body this long reserves in the buffered-response budget.</summary>
    public static long EnvelopeNeed(long bodyLength) => EnvelopeResult.Need(bodyLength);

    public Task<IResult> HandleAsync(HttpContext context) =>
        InvocationSteps.WithRecordAsync(telemetry, record => HandleCoreAsync(context, record));

    private async Task<IResult> HandleCoreAsync(HttpContext context, InvocationRecord record)
    {
        var (caller, refusal) = await InvocationSteps.AuthenticateAsync(callers, context, record, logger);
        if (refusal is not null)
        {
            return refusal;
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
            return InvocationSteps.Rejected(e, context, record, logger);
        }
        catch (BadHttpRequestException e)
        {
            // Broken framing (a bad chunk size, a body that stops short of its Content-Length and stalls):
            // the status the server itself gives, never a success.
            Log.BrokenRequest(logger, e.StatusCode, LogText.Escape(e.Message));
            record.Cut("request-framing");
            return Results.StatusCode(e.StatusCode);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            record.Cut("caller-gone");
            context.Abort(); // the caller went away while sending: nothing to answer, and never an empty 200
            return Results.Empty;
        }

        var (outcome, failure) = await InvocationSteps.SendAsync(invoker, request, caller.Caller, context, record, logger);
        if (outcome is null)
        {
            return failure!;
        }
        return request.Response == ResponseMode.Passthrough
            ? new PassthroughResult(outcome, record, logger, forward: false)
            : await BufferEnvelopeAsync(outcome, context, record);
    }

    private async Task<IResult> BufferEnvelopeAsync(InvocationOutcome outcome, HttpContext context, InvocationRecord record)
    {
        var reservation = budget.Open();
        try
        {
            if (outcome.DeclaredBodyLength is { } declared)
            {
                // All of it at once (the body and the envelope built from it): taking the body's share now and the
                // envelope's later would let responses in flight hold half each and starve one another.
                await reservation.GrowToAsync(EnvelopeResult.Need(declared), outcome.Token);
            }
            var stream = await outcome.Response.Content.ReadAsStreamAsync(outcome.Token);
            var body = await BoundedBody.ReadAsync(stream, outcome.DeclaredBodyLength,
                outcome.Profile.MaxResponseBytes, () => InvocationSteps.TooLarge(outcome.Profile), outcome.Token, reservation);
            return new EnvelopeResult(outcome, body, reservation, outcome.Elapsed, record, logger);
        }
        catch (Exception e)
        {
            reservation.Dispose();
            outcome.Dispose();
            if (context.RequestAborted.IsCancellationRequested)
            {
                record.Cut("caller-gone");
                context.Abort();
                return Results.Empty;
            }
            var error = outcome.ClassifyBodyFailure(e);
            Log.Rejected(logger, error.Code, "-", LogText.Escape(error.Message));
            return InvocationSteps.Problem(error, context, record);
        }
    }

    /// <summary>Writes the envelope from the buffered body, then releases everything.</summary>
    private sealed class EnvelopeResult(
        InvocationOutcome outcome, BoundedBody body, ResponseBufferBudget.Reservation reservation, TimeSpan duration, InvocationRecord record, ILogger logger)
        : IResult, InvocationSteps.IOwnsRecord
    {
        private const int WriteSlice = 64 * 1024;

        /// <summary>What an envelope of a body this long holds in memory: the body, and the envelope (base64 at worst).</summary>
        public static long Need(long bodyLength) => Allocated(bodyLength + 1) + Allocated(Estimate(bodyLength));

        /// <summary>What an array of that size really takes: large ones are whole MiB (LargeBufferPool).</summary>
        private static long Allocated(long size) =>
            size <= PooledBufferWriter.LargestPooled ? size : (size + PooledBufferWriter.LargestPooled - 1) / PooledBufferWriter.LargestPooled * PooledBufferWriter.LargestPooled;

        private static int Estimate(long bodyLength) => (int)Math.Min(int.MaxValue, bodyLength * 4 / 3 + 4096);

        public async Task ExecuteAsync(HttpContext context)
        {
            using (record)
            using (outcome)
            using (reservation)
            using (body)
            {
                record.Answered((int)outcome.Response.StatusCode, outcome.Transport.ProtocolFor(outcome.Request.Url)?.ToString(), duration);
                var estimate = Estimate(body.Memory.Length);
                try
                {
                    await reservation.GrowToAsync(Need(body.Memory.Length), context.RequestAborted);
                }
                catch (InvokerException busy)
                {
                    await InvocationSteps.Problem(busy, context, record).ExecuteAsync(context);
                    return;
                }
                // Built in a pooled buffer first: one write with a Content-Length, no chunked framing.
                using var envelope = new PooledBufferWriter(estimate, reservation.Pool);
                using (var writer = new Utf8JsonWriter(envelope, EnvelopeWriter.WriterOptions))
                {
                    EnvelopeWriter.Write(writer, outcome, body.Memory.Span, duration);
                }
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json; charset=utf-8";
                context.Response.ContentLength = envelope.WrittenMemory.Length;
                // In slices: one write of the whole envelope would be copied entirely into the server's own
                // buffers before any backpressure applies, a second copy of every large envelope in flight.
                var rest = envelope.WrittenMemory;
                while (!rest.IsEmpty)
                {
                    var slice = rest[..Math.Min(rest.Length, WriteSlice)];
                    await context.Response.Body.WriteAsync(slice, context.RequestAborted);
                    rest = rest[slice.Length..];
                }
                Log.Completed(logger, outcome.Profile.Name, outcome.Request.Method.Method, outcome.Target.ToString(),
                    (int)outcome.Response.StatusCode, duration.TotalMilliseconds, "envelope");
            }
        }
    }

    internal static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Information, "Invoked profile {Profile} {Method} {Target} → {Status} in {DurationMs:F1} ms ({Mode}).")]
        public static partial void Completed(ILogger logger, string profile, string method, string target, int status, double durationMs, string mode);

        [LoggerMessage(3002, LogLevel.Warning, "Invocation refused: {Code} (field {Field}): {Reason}")]
        public static partial void Rejected(ILogger logger, string code, string field, string reason);

        [LoggerMessage(3003, LogLevel.Warning, "Passthrough for profile {Profile} cut short: {Reason}.")]
        public static partial void PassthroughCut(ILogger logger, string profile, string reason);

        [LoggerMessage(3004, LogLevel.Warning, "The invocation request's framing is broken ({Status}): {Reason}")]
        public static partial void BrokenRequest(ILogger logger, int status, string reason);
    }
}
