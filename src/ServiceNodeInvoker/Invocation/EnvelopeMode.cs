using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// The envelope: the backend's body is read whole (within the profile's MaxResponseBytes and the instance's
/// buffered-response budget), then written as one JSON reply with a Content-Length (<see cref="EnvelopeWriter"/>).
/// </summary>
internal sealed class EnvelopeMode(ResponseBufferBudget budget, InvocationFailures failures, ILogger logger) : InvocationMode
{
    private const int WriteSlice = 64 * 1024;

    private const string Mode = "envelope";

    public override string Name => Mode;

    public override bool RelaysHeaders => false;

    /// <summary>What an envelope of a body this long holds in memory: the body, and the envelope (base64 at worst).</summary>
    public static long Need(long bodyLength) => Allocated(bodyLength + 1) + Allocated(Estimate(bodyLength));

    /// <summary>What an array of that size really takes: large ones are whole MiB (LargeBufferPool).</summary>
    private static long Allocated(long size) =>
        size <= PooledBufferWriter.LargestPooled ? size : (size + PooledBufferWriter.LargestPooled - 1) / PooledBufferWriter.LargestPooled * PooledBufferWriter.LargestPooled;

    private static int Estimate(long bodyLength) => (int)Math.Min(int.MaxValue, bodyLength * 4 / 3 + 4096);

    public override async ValueTask<IResult> AnswerAsync(InvocationOutcome outcome, HttpContext context, InvocationRecord record)
    {
        var reservation = budget.Open();
        try
        {
            if (outcome.DeclaredBodyLength is { } declared)
            {
                // All of it at once (the body and the envelope built from it): taking the body's share now and the
                // envelope's later would let responses in flight hold half each and starve one another.
                await reservation.GrowToAsync(Need(declared), outcome.Token);
            }
            var stream = await outcome.Response.Content.ReadAsStreamAsync(outcome.Token);
            var body = await BoundedBody.ReadAsync(stream, outcome.DeclaredBodyLength,
                outcome.Profile.MaxResponseBytes, outcome.TooLarge, outcome.Token, reservation);
            return new Result(outcome, body, reservation, outcome.Elapsed, record, failures, logger);
        }
        catch (Exception e)
        {
            reservation.Dispose();
            outcome.Dispose();
            return context.RequestAborted.IsCancellationRequested
                ? failures.CallerGone(context, record)
                : failures.Reply(outcome.ClassifyBodyFailure(e), context, record);
        }
    }

    /// <summary>Writes the envelope from the buffered body, then releases everything.</summary>
    private sealed class Result(
        InvocationOutcome outcome, BoundedBody body, ResponseBufferBudget.Reservation reservation, TimeSpan duration, InvocationRecord record,
        InvocationFailures failures, ILogger logger)
        : IResult, IOwnsRecord
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            using (record)
            using (outcome)
            using (reservation)
            using (body)
            {
                record.Answered((int)outcome.Response.StatusCode, outcome.Transport.ProtocolFor(outcome.Request.Url)?.ToString(), duration);
                try
                {
                    if (!await WriteAsync(context))
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
                {
                    // The caller went away while its envelope waited for memory or was written: nobody to answer.
                    failures.CallerGone(context, record);
                    return;
                }
                InvocationLog.Completed(logger, outcome.Profile.Name, outcome.Request.Method.Method, outcome.Target.ToString(),
                    (int)outcome.Response.StatusCode, duration.TotalMilliseconds, Mode);
            }
        }

        /// <summary>Writes the envelope; false when the buffer budget refused it (that problem is the answer, already written).</summary>
        private async Task<bool> WriteAsync(HttpContext context)
        {
            var estimate = Estimate(body.Memory.Length);
            try
            {
                await reservation.GrowToAsync(Need(body.Memory.Length), context.RequestAborted);
            }
            catch (InvokerException busy)
            {
                await failures.Reply(busy, context, record).ExecuteAsync(context);
                return false;
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
            return true;
        }
    }
}
