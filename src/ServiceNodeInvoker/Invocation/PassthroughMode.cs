using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Telemetry;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Passthrough and forward mode: the backend's status, end-to-end headers (as sent) and body, streamed;
/// never buffers the body. Until the first byte of the reply has left, any failure (too large, a broken
/// body, a timeout) is still answered with a problem; after that, cutting the connection is the only honest signal.
/// </summary>
internal class PassthroughMode(InvocationFailures failures, ILogger logger) : InvocationMode
{
    private readonly InvocationFailures _failures = failures;
    private readonly ILogger _logger = logger;

    public override string Name => "passthrough";

    public override bool RelaysHeaders => true;

    /// <summary>
    /// Whether the reply answers the caller's own request (forward mode), so the backend's Content-Length of a HEAD is
    /// the caller's too; passthrough's reply answers the caller's POST, so such a length goes in a header of its own.
    /// </summary>
    protected virtual bool AnswersCallersOwnRequest => false;

    public override ValueTask<IResult> AnswerAsync(InvocationOutcome outcome, HttpContext context, InvocationRecord record) =>
        ValueTask.FromResult<IResult>(new Result(outcome, record, this)); // synchronous: no Task allocated

    /// <summary>The prefix of the headers the invoker writes itself (<see cref="InvokerHeaders"/>).</summary>
    private const string OursPrefix = "invoker-";

    private sealed class Result(InvocationOutcome outcome, InvocationRecord record, PassthroughMode mode) : IResult, IOwnsRecord
    {
        private const int BufferSize = 64 * 1024;

        public async Task ExecuteAsync(HttpContext context)
        {
            using (record)
            using (outcome)
            {
                var status = (int)outcome.Response.StatusCode;
                record.Answered(status, outcome.Transport.ProtocolFor(outcome.Request.Url)?.ToString(), outcome.Elapsed);
                var response = context.Response;
                WriteHead(response);
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                long copied = 0;
                var limit = outcome.Profile.MaxResponseBytes;
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
                try
                {
                    await using var source = await outcome.Response.Content.ReadAsStreamAsync(outcome.Token);
                    int read;
                    while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), outcome.Token)) > 0)
                    {
                        copied += read;
                        if (copied > limit)
                        {
                            await FailAsync(context, outcome.TooLarge(), "response-too-large",
                                $"the body exceeded MaxResponseBytes ({limit})");
                            return;
                        }
                        await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
                {
                    if (context.RequestAborted.IsCancellationRequested)
                    {
                        mode._failures.Cut(context, record, outcome.Profile.Name, "caller-gone", "the caller went away");
                        return;
                    }
                    var error = outcome.ClassifyBodyFailure(e);
                    await FailAsync(context, error, outcome.TimedOut ? "timeout" : "stream-broken",
                        outcome.TimedOut ? "the timeout passed while streaming" : $"the backend's body broke off ({e.GetType().Name})");
                    return;
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
                InvocationLog.Completed(mode._logger, outcome.Profile.Name, outcome.Request.Method.Method, outcome.Target.ToString(),
                    status, outcome.Elapsed.TotalMilliseconds, mode.Name);
            }
        }

        private void WriteHead(HttpResponse response)
        {
            response.StatusCode = (int)outcome.Response.StatusCode;
            var noBody = outcome.HasNoBody;
            foreach (var (name, values) in HeaderPolicy.ResponseEndToEnd(outcome.Response))
            {
                if (name.StartsWith(OursPrefix, StringComparison.OrdinalIgnoreCase))
                {
                    // invoker-error, invoker-token, invoker-duration-ms…: ours alone. A backend's own would let it pose as the
                    // invoker (a fake problem, a second token note); the envelope still shows them among the backend's headers.
                    continue;
                }
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    // Checked by BackendResponse: one valid length. Our reply to the POST carries no body for
                    // HEAD/204/304, so the length the backend announced goes in a header of its own.
                    var length = HeaderPolicy.ContentLength(outcome.Response);
                    if (mode.AnswersCallersOwnRequest && outcome.Request.Method == HttpMethod.Head)
                    {
                        // Forward mode answers the caller's own HEAD: the length is the backend's, as sent.
                        response.Headers.ContentLength = length;
                    }
                    else if (noBody)
                    {
                        response.Headers[InvokerHeaders.BackendContentLength] = length?.ToString(CultureInfo.InvariantCulture);
                    }
                    else
                    {
                        response.ContentLength = length;
                    }
                    continue;
                }
                // One value (nearly every header) as itself: no array, no boxed enumerator.
                response.Headers.Append(name, values.Count == 1 ? new Microsoft.Extensions.Primitives.StringValues(values.ToString()) : values.ToArray());
            }
            response.Headers[InvokerHeaders.Duration] = outcome.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
        }

        private async Task FailAsync(HttpContext context, InvokerException error, string cut, string reason)
        {
            if (!context.Response.HasStarted)
            {
                // Nothing has left yet: the caller gets a problem reply instead of a cut connection.
                context.Response.Clear();
                await mode._failures.Reply(error, context, record).ExecuteAsync(context);
                return;
            }
            mode._failures.Cut(context, record, outcome.Profile.Name, cut, reason);
        }
    }
}

/// <summary>/api/forward: passthrough that answers the caller's own request (its HEAD gets the backend's Content-Length).</summary>
internal sealed class ForwardMode(InvocationFailures failures, ILogger logger) : PassthroughMode(failures, logger)
{
    public override string Name => "forward";

    protected override bool AnswersCallersOwnRequest => true;
}
