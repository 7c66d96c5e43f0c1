using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// A backend's answer (headers received, body not yet read) and everything that must stay alive
/// while the body is read: the transport lease and the timeout. Dispose once the body is consumed.
/// </summary>
internal sealed class InvocationOutcome(
    InvocationRequest request,
    TlsProfile profile,
    ProfileMaterial material,
    TransportLease lease,
    HttpResponseMessage response,
    CancellationTokenSource timeout,
    CancellationToken callerAborted,
    TimeProvider time,
    long startedAt,
    Profiles.HostKey target) : IDisposable
{
    public InvocationRequest Request => request;

    /// <summary>The backend's host:port, as logs and messages name it.</summary>
    public Profiles.HostKey Target => target;
    public TlsProfile Profile => profile;
    public ProfileMaterial Material => material;
    public ProfileTransport Transport => lease.Transport;
    public HttpResponseMessage Response => response;

    /// <summary>The <see cref="InvokerHeaders.Token"/> value when the backend refused the access token (refreshed, not-retried).</summary>
    public string? TokenNote { get; init; }

    /// <summary>Cancelled on the invocation's timeout or when the caller goes away.</summary>
    public CancellationToken Token => timeout.Token;

    public bool TimedOut => timeout.IsCancellationRequested && !callerAborted.IsCancellationRequested;

    public TimeSpan Elapsed => time.GetElapsedTime(startedAt);

    /// <summary>True when the backend's answer has no body, whatever its Content-Length says: HEAD, 204, 304.</summary>
    public bool HasNoBody => request.Method == HttpMethod.Head || (int)response.StatusCode is 204 or 304;

    /// <summary>The body length the backend announced; a HEAD, 204 or 304 answer carries none.</summary>
    public long? DeclaredBodyLength => HasNoBody ? 0 : HeaderPolicy.ContentLength(response);

    /// <summary>A failure while reading the backend's body, classified the one way the invoker classifies failures.</summary>
    public Contract.InvokerException ClassifyBodyFailure(Exception e) =>
        FailureClassifier.Classify(e, profile, request, TimedOut, presentedClientCertificate: false);

    public void Dispose()
    {
        response.Dispose();
        timeout.Dispose();
        lease.Dispose();
    }
}
