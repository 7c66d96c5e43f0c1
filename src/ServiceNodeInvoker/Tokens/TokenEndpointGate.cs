namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// One token endpoint (its URL) as this instance sees it, shared by every profile that uses it: one token request in
/// flight at a time, and once the endpoint said to wait (429, or 502–504 with Retry-After) nobody here asks it before
/// then. Many instances starting at once then offer the endpoint one request each, not one per profile each, and a
/// throttled instance backs off as a whole instead of each of its profiles on its own. After a throttle the requests
/// that follow are spaced — the wait it asked for, jittered, halved with each success — so an instance comes back at
/// the pace the endpoint can take instead of in a burst (additive back-off, multiplicative recovery). A token request
/// is rare in steady state (one per profile per token lifetime), so the line costs nothing outside a cold start.
/// </summary>
internal sealed class TokenEndpointGate(TimeProvider time)
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Lock _gate = new();
    private DateTimeOffset _closedUntil = DateTimeOffset.MinValue;
    private DateTimeOffset _lastStart = DateTimeOffset.MinValue;
    private TimeSpan _spacing;

    /// <summary>Below this the spacing after a throttle is dropped: the endpoint is keeping up.</summary>
    private static readonly TimeSpan MinSpacing = TimeSpan.FromMilliseconds(100);

    /// <summary>When the next request from this instance may start (past: now).</summary>
    public DateTimeOffset NextTry => NextStart();

    /// <summary>Waits for this instance's turn at the endpoint, then for any wait it asked for; dispose to give the turn up.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken);
        try
        {
            while (NextStart() - time.GetUtcNow() is { Ticks: > 0 } wait)
            {
                await Task.Delay(wait, time, cancellationToken);
            }
            lock (_gate)
            {
                _lastStart = time.GetUtcNow();
                _drawn = null;
            }
            return new Turn(_turn);
        }
        catch
        {
            _turn.Release();
            throw;
        }
    }

    private DateTimeOffset? _drawn;

    /// <summary>The earliest start of the next request: after any wait asked for, and the spacing after the last start (drawn once per request).</summary>
    private DateTimeOffset NextStart()
    {
        lock (_gate)
        {
            if (_spacing == TimeSpan.Zero)
            {
                return _closedUntil;
            }
            _drawn ??= _lastStart + _spacing * (1 + Random.Shared.NextDouble() * 0.5);
            return _drawn.Value > _closedUntil ? _drawn.Value : _closedUntil;
        }
    }

    /// <summary>
    /// The endpoint asked us to wait <paramref name="wait"/> (its Retry-After, jittered): no request from this instance
    /// before then, and the ones after it spaced by <paramref name="pace"/> (halved with each success).
    /// </summary>
    public void Close(TimeSpan wait, TimeSpan pace)
    {
        var until = time.GetUtcNow() + wait;
        lock (_gate)
        {
            if (until > _closedUntil)
            {
                _closedUntil = until;
            }
            _spacing = pace > _spacing ? pace : _spacing;
        }
    }

    /// <summary>A request went through: the spacing halves (and goes once it is small).</summary>
    public void Succeeded()
    {
        lock (_gate)
        {
            _spacing = _spacing / 2 < MinSpacing ? TimeSpan.Zero : _spacing / 2;
        }
    }

    private sealed class Turn(SemaphoreSlim turn) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                turn.Release();
            }
        }
    }
}
