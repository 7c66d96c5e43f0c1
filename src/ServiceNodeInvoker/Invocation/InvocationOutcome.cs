using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// What a mode answers from (step 7): the backend's answer (headers received, body not yet read) and everything that
/// must stay alive while its body is read — the exchange (the transport lease) and the call's deadline. The mode owns
/// it: it writes the reply, success or failure, and disposes it.
/// </summary>
internal sealed class InvocationOutcome(
    InvocationRequest request,
    TlsProfile profile,
    ProfileMaterial material,
    HostKey target,
    Exchange exchange,
    CallDeadline deadline,
    TimeProvider time,
    long startedAt) : IDisposable
{
    public InvocationRequest Request => request;

    /// <summary>The backend's host:port, as logs and messages name it.</summary>
    public HostKey Target => target;
    public TlsProfile Profile => profile;
    public ProfileMaterial Material => material;
    public ProfileTransport Transport => exchange.Transport;
    public HttpResponseMessage Response => exchange.Response;

    /// <summary>The <see cref="InvokerHeaders.Token"/> value when the backend refused the access token (refreshed, not-retried, retry-skipped).</summary>
    public string? TokenNote { get; init; }

    /// <summary>Cancelled on the invocation's timeout or when the caller goes away.</summary>
    public CancellationToken Token => deadline.Token;

    public bool TimedOut => deadline.TimedOut;

    public TimeSpan Elapsed => time.GetElapsedTime(startedAt);

    /// <summary>True when the backend's answer has no body, whatever its Content-Length says: HEAD, 204, 304.</summary>
    public bool HasNoBody => request.Method == HttpMethod.Head || (int)exchange.Response.StatusCode is 204 or 304;

    /// <summary>The body length the backend announced; a HEAD, 204 or 304 answer carries none.</summary>
    public long? DeclaredBodyLength => HasNoBody ? 0 : HeaderPolicy.ContentLength(exchange.Response);

    /// <summary>The error for a body larger than the profile's MaxResponseBytes.</summary>
    public InvokerException TooLarge() =>
        new(ErrorCodes.ResponseTooLarge,
            $"The backend's response body is larger than {profile.MaxResponseBytes} bytes, the MaxResponseBytes of profile '{profile.Name}'.");

    /// <summary>A failure while reading the backend's body, classified the one way the invoker classifies failures.</summary>
    public InvokerException ClassifyBodyFailure(Exception e) =>
        FailureClassifier.Classify(e, new FailureClassifier.Evidence(target, profile, PresentedClientCertificate: false,
            deadline.TimedOut ? deadline.Wait : null, Witness: null));

    public void Dispose()
    {
        exchange.Dispose();
        deadline.Dispose();
    }
}
