using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// A backend's answer (headers received, body not yet read) and everything that must stay alive
/// while the body is read: the transport lease and the timeout. Dispose once the body is consumed.
/// </summary>
public sealed class InvocationOutcome(
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

    /// <summary>Cancelled on the invocation's timeout or when the caller goes away.</summary>
    public CancellationToken Token => timeout.Token;

    public bool TimedOut => timeout.IsCancellationRequested && !callerAborted.IsCancellationRequested;

    public TimeSpan Elapsed => time.GetElapsedTime(startedAt);

    public void Dispose()
    {
        response.Dispose();
        timeout.Dispose();
        lease.Dispose();
    }
}
