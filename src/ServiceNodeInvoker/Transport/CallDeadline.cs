namespace ServiceNodeInvoker.Transport;

/// <summary>
/// One call's deadline, shared by everything done for it (waiting for the certificate or a token, connecting,
/// sending, reading the answer): cancelled when its time is up or when the caller goes away, and able to say which.
/// </summary>
internal sealed class CallDeadline : IDisposable
{
    private readonly CancellationTokenSource _source;

    public CallDeadline(TimeSpan wait, CancellationToken callerAborted)
    {
        Wait = wait;
        CallerAborted = callerAborted;
        _source = CancellationTokenSource.CreateLinkedTokenSource(callerAborted);
        _source.CancelAfter(wait);
    }

    /// <summary>How long the call may take.</summary>
    public TimeSpan Wait { get; }

    /// <summary>Cancelled by the deadline or by the caller going away.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The caller's own cancellation (its connection closed, or the host stopping).</summary>
    public CancellationToken CallerAborted { get; }

    /// <summary>The caller went away: nobody waits for an answer.</summary>
    public bool CallerGone => CallerAborted.IsCancellationRequested;

    /// <summary>The call's own deadline passed (not the caller going away).</summary>
    public bool TimedOut => _source.IsCancellationRequested && !CallerAborted.IsCancellationRequested;

    public void Dispose() => _source.Dispose();
}
