using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// The one way a request leaves for a profile's backend or token endpoint: a lease on the profile's pooled transport
/// for the certificate it presents, the send within the call's deadline, and — when it fails before the answer's
/// headers — the evidence the <see cref="FailureClassifier"/> names the cause from (the wire witness, whether our
/// certificate was presented, the deadline, the CAs the server accepts).
/// </summary>
internal sealed class ProfileSender(TransportPool transports, AcceptedIssuers acceptedIssuers)
{
    /// <summary>Sends <paramref name="message"/> (owned from here on) and returns the answer, headers in, holding the lease.</summary>
    /// <exception cref="SendFailedException">The send failed while the caller still waits; its evidence goes with it.</exception>
    /// <exception cref="OperationCanceledException">The caller went away.</exception>
    public async Task<Exchange> SendAsync(TlsProfile profile, ProfileMaterial material, HttpRequestMessage message, CallDeadline deadline)
    {
        var lease = transports.Acquire(profile, material);
        try
        {
            var response = await lease.Transport.Invoker.SendAsync(message, deadline.Token);
            return new Exchange(message, response, lease);
        }
        catch (Exception e)
        {
            lease.Dispose();
            message.Dispose();
            if (deadline.CallerGone)
            {
                throw new OperationCanceledException("The caller went away.", e, deadline.CallerAborted);
            }
            throw new SendFailedException(e, EvidenceOf(profile, material, message, deadline));
        }
    }

    /// <summary>The CAs the server at <paramref name="target"/> named as accepted, as last seen.</summary>
    public AcceptedIssuers.Seen? AcceptedBy(TlsProfile profile, HostKey target) => acceptedIssuers.Of(profile, target);

    /// <summary>What is known of a failed exchange besides its exception, as of now (whether the deadline has passed).</summary>
    public FailureClassifier.Evidence EvidenceOf(TlsProfile profile, ProfileMaterial material, HttpRequestMessage message, CallDeadline deadline)
    {
        var target = HostKey.FromUri(message.RequestUri!);
        return new FailureClassifier.Evidence(target, profile, material.Client is not null, deadline.TimedOut ? deadline.Wait : null, WireWitness.Of(message))
        {
            Ours = material.Client,
            Accepted = acceptedIssuers.Of(profile, target),
        };
    }

    /// <summary>The answer's connection may be desynchronised (broken framing): the transport it came on is not reused.</summary>
    public void Discard(Exchange exchange) => transports.Discard(exchange.Transport);
}

/// <summary>
/// One request sent over a leased transport and its answer (headers in, body not yet read). Dispose releases the
/// answer, the message and the lease.
/// </summary>
internal sealed class Exchange(HttpRequestMessage message, HttpResponseMessage response, TransportLease lease) : IDisposable
{
    public HttpRequestMessage Message => message;
    public HttpResponseMessage Response => response;
    public ProfileTransport Transport => lease.Transport;

    /// <summary>What the server sent while this request's connection was opened, when the request opened one.</summary>
    public WireWitness? Witness => WireWitness.Of(message);

    public void Dispose()
    {
        response.Dispose();
        message.Dispose();
        lease.Dispose();
    }
}

/// <summary>A send that failed before the answer's headers, with what was seen of it (<see cref="FailureClassifier.Classify(SendFailedException)"/>).</summary>
internal sealed class SendFailedException(Exception inner, FailureClassifier.Evidence evidence) : Exception(inner.Message, inner)
{
    public FailureClassifier.Evidence Evidence => evidence;
}
