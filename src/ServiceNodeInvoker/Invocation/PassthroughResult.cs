using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Telemetry;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Streams the backend's status, end-to-end headers (as sent) and body; never buffers the body.
/// Until the first byte of the reply has left, any failure (too large, a broken body, a timeout)
/// is still answered with a problem; after that, cutting the connection is the only honest signal.
/// </summary>
internal sealed class PassthroughResult(InvocationOutcome outcome, InvocationRecord record, ILogger logger, bool forward) : IResult, InvocationSteps.IOwnsRecord
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
                        await FailAsync(context, InvocationSteps.TooLarge(outcome.Profile), "response-too-large",
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
                    record.Cut("caller-gone");
                    InvokeEndpoint.Log.PassthroughCut(logger, outcome.Profile.Name, "the caller went away");
                    context.Abort();
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
            InvokeEndpoint.Log.Completed(logger, outcome.Profile.Name, outcome.Request.Method.Method, outcome.Target.ToString(),
                status, outcome.Elapsed.TotalMilliseconds, forward ? "forward" : "passthrough");
        }
    }

    private void WriteHead(HttpResponse response)
    {
        response.StatusCode = (int)outcome.Response.StatusCode;
        var noBody = outcome.HasNoBody;
        foreach (var (name, values) in HeaderPolicy.ResponseEndToEnd(outcome.Response))
        {
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // Checked by BackendResponse: one valid length. Our reply to the POST carries no body for
                // HEAD/204/304, so the length the backend announced goes in a header of its own.
                var length = HeaderPolicy.ContentLength(outcome.Response);
                if (forward && outcome.Request.Method == HttpMethod.Head)
                {
                    // Forward mode answers the caller's own HEAD: the length is the backend's, as sent.
                    response.Headers.ContentLength = length;
                }
                else if (noBody)
                {
                    response.Headers[InvokeEndpoint.BackendContentLengthHeader] = length?.ToString(CultureInfo.InvariantCulture);
                }
                else
                {
                    response.ContentLength = length;
                }
                continue;
            }
            response.Headers.Append(name, values.ToArray());
        }
        response.Headers[InvokeEndpoint.DurationHeader] = outcome.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
    }

    private async Task FailAsync(HttpContext context, InvokerException error, string cut, string reason)
    {
        if (!context.Response.HasStarted)
        {
            // Nothing has left yet: the caller gets a problem reply instead of a cut connection.
            context.Response.Clear();
            InvokeEndpoint.Log.Rejected(logger, error.Code, "-", LogText.Escape(error.Message));
            await InvocationSteps.Problem(error, context, record).ExecuteAsync(context);
            return;
        }
        record.Cut(cut);
        InvokeEndpoint.Log.PassthroughCut(logger, outcome.Profile.Name, reason);
        context.Abort();
    }
}
