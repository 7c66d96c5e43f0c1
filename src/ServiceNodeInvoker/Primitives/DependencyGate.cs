namespace ServiceNodeInvoker.Primitives;

/// <summary>How one <see cref="DependencyGate"/> lets requests through to its dependency.</summary>
/// <param name="Name">What the gate guards, for messages ("Key Vault", "token endpoint").</param>
/// <param name="MaxInFlight">Requests in flight at once from this instance.</param>
/// <param name="ThrottlePause">
/// The pause after the dependency refused with a throttle (<see cref="DependencyGate.Throttled"/>): from the consecutive
/// throttles so far (1 for the first; every user of the gate counts, and an answer starts the count again), its Retry-After
/// when it sent one, and a uniform draw in [0, 1) for the jitter: the Retry-After it asked for (within the bounds the
/// policy sets), plus a random part, so instances refused in the same second do not all come back in the same second.
/// </param>
/// <param name="SpaceAfterThrottle">
/// After a pause, the requests that follow start at least the Retry-After the dependency gave (else the pause) apart,
/// jittered up to half again; the spacing halves with each answer and goes below <see cref="MinSpacing"/> — the dependency
/// is taken back to full speed gradually instead of in a burst.
/// </param>
internal sealed record DependencyGateOptions(string Name, int MaxInFlight, Func<int, TimeSpan?, double, TimeSpan> ThrottlePause,
    bool SpaceAfterThrottle = false)
{
    /// <summary>Below this the spacing after a throttle is dropped: the dependency is keeping up.</summary>
    public static readonly TimeSpan MinSpacing = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// This instance's way into one dependency (a vault, a token endpoint), shared by everything of this instance that calls
/// it: at most <see cref="DependencyGateOptions.MaxInFlight"/> requests at a time, and once the dependency said to wait
/// (a throttle, with or without Retry-After) no request from here before then — every caller waits out the one pause, so
/// an instance with many profiles meets a throttled dependency with one retry, not one per profile, and a scale-out of
/// such instances does not keep it saturated with refusals. It never adds a request of its own: it only holds callers back.
/// </summary>
/// <remarks>
/// A caller waiting out a pause gives its slot up meanwhile: one that cannot wait (<see cref="TryEnterAsync"/> with a token
/// that cannot be cancelled: a background refresh nobody waits for) finds the slot free, sees the pause and skips.
/// </remarks>
internal sealed class DependencyGate(DependencyGateOptions options, TimeProvider time, Func<double>? random = null)
{
    private readonly SemaphoreSlim _slots = new(options.MaxInFlight, options.MaxInFlight);
    private readonly Lock _lock = new();
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;
    private DateTimeOffset _lastStart = DateTimeOffset.MinValue;
    private DateTimeOffset? _drawn;
    private TimeSpan _spacing;
    private int _throttles;

    public DependencyGateOptions Options => options;

    /// <summary>When the next request from this instance may start (in the past: now).</summary>
    public DateTimeOffset NextTry
    {
        get
        {
            lock (_lock)
            {
                return NextStart();
            }
        }
    }

    /// <summary>How much of the wait is left (zero when a request may start now).</summary>
    public TimeSpan PauseLeft => NextTry - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>Waits for a slot and for any pause or spacing to pass; dispose the result when the request has its answer.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken) =>
        (await EnterCoreAsync(cancellationToken, skipWhenPaused: false))!;

    /// <summary>
    /// As <see cref="EnterAsync"/>, except that a request nobody waits for (<paramref name="patience"/> cannot be cancelled)
    /// does not wait out a pause: it gets null, and the request is not made.
    /// </summary>
    /// <param name="patience">Cancelled when the callers waiting for this request stop waiting.</param>
    public Task<IDisposable?> TryEnterAsync(CancellationToken patience) => EnterCoreAsync(patience, skipWhenPaused: !patience.CanBeCanceled);

    private async Task<IDisposable?> EnterCoreAsync(CancellationToken cancellationToken, bool skipWhenPaused)
    {
        while (true)
        {
            await _slots.WaitAsync(cancellationToken);
            TimeSpan wait;
            lock (_lock)
            {
                var now = time.GetUtcNow();
                wait = NextStart() - now;
                if (wait <= TimeSpan.Zero)
                {
                    _lastStart = now;
                    _drawn = null;
                    return new Slot(_slots);
                }
            }
            _slots.Release();
            if (skipWhenPaused)
            {
                return null;
            }
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    /// <summary>The earliest start of the next request: after any pause, and the spacing after the last start (drawn once per start).</summary>
    private DateTimeOffset NextStart()
    {
        if (_spacing == TimeSpan.Zero)
        {
            return _pausedUntil;
        }
        _drawn ??= _lastStart + _spacing * (1 + _random() * 0.5);
        return _drawn.Value > _pausedUntil ? _drawn.Value : _pausedUntil;
    }

    /// <summary>
    /// The dependency refused with a throttle: no request from this instance before the options' pause for it is over,
    /// and — when the options space requests after a throttle — the ones after it at least its Retry-After (else the
    /// pause) apart.
    /// </summary>
    public void Throttled(TimeSpan? retryAfter)
    {
        lock (_lock)
        {
            _throttles++;
            var pause = options.ThrottlePause(_throttles, retryAfter, _random());
            var until = time.GetUtcNow() + pause;
            _pausedUntil = until > _pausedUntil ? until : _pausedUntil; // a pause is only ever extended, never cut short
            var pace = retryAfter ?? pause;
            if (options.SpaceAfterThrottle && pace > _spacing)
            {
                _spacing = pace;
            }
        }
    }

    /// <summary>The dependency answered without asking to wait: the pause's random part starts small again and the spacing halves.</summary>
    public void Answered()
    {
        lock (_lock)
        {
            _throttles = 0;
            _spacing = _spacing / 2 < DependencyGateOptions.MinSpacing ? TimeSpan.Zero : _spacing / 2;
        }
    }

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
