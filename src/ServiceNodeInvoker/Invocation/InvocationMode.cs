using ServiceNodeInvoker.Contract;
using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// What differs between the ways an invocation is answered (envelope, passthrough, forward): whether the
/// backend's headers are relayed as headers (then each must be writable in HTTP: step 6 asks), and the whole
/// answer from the <see cref="InvocationOutcome"/> it is given — the reply, a failure while the backend's body is
/// read (through <see cref="InvocationFailures"/>), the log line and the end of the invocation's telemetry. How the
/// request is read is the entry's part (<see cref="IEntryReader"/>); everything else is the pipeline's, the
/// same for all. A new mode is a subclass here and one case in <c>InvocationPipeline.ModeOf</c>.
/// </summary>
internal abstract class InvocationMode
{
    /// <summary>A result that ends the invocation's telemetry itself, once it has written the reply.</summary>
    internal interface IOwnsRecord;

    /// <summary>The mode's name in the completion log line ("envelope", "passthrough", "forward").</summary>
    public abstract string Name { get; }

    /// <summary>The backend's headers go back as headers: a value HTTP cannot carry is refused before anything is written.</summary>
    public abstract bool RelaysHeaders { get; }

    /// <summary>Step 7: the reply, from the backend's answer (headers in, body not yet read). Owns <paramref name="outcome"/>.</summary>
    public abstract ValueTask<IResult> AnswerAsync(InvocationOutcome outcome, HttpContext context, InvocationRecord record);
}

/// <summary>Step 2: how an entry reads the caller's request (the JSON invocation request, or the caller's own HTTP request).</summary>
internal interface IEntryReader
{
    /// <param name="routeProfile">The profile named in the route (forward mode), if any.</param>
    ValueTask<InvocationRequest> ReadAsync(HttpContext context, string? routeProfile);
}
