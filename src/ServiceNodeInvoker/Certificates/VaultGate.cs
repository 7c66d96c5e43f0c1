namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// This instance's way into one vault: at most <see cref="Concurrency"/> reads at a time, and after a 429 every read of
/// every profile waits out the vault's Retry-After plus a spread that grows while the vault keeps refusing
/// (<see cref="LoadBackoff"/>). Without it, an instance with many profiles meets a throttled vault with a refused request
/// per profile, and a scale-out of such instances keeps the vault saturated with refusals.
/// </summary>
internal sealed class VaultGate(TimeProvider time, Func<double>? random = null)
{
    /// <summary>Reads in flight per vault and instance. A cold start of many profiles queues behind it for a few round trips.</summary>
    public const int Concurrency = 2;

    private readonly SemaphoreSlim _slots = new(Concurrency, Concurrency);
    private readonly Lock _lock = new();
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private DateTimeOffset _pausedUntil;
    private int _throttles;

    /// <summary>Until when reads wait after the last 429 (in the past when they do not).</summary>
    public DateTimeOffset PausedUntil
    {
        get
        {
            lock (_lock)
            {
                return _pausedUntil;
            }
        }
    }

    /// <summary>How much of the pause is left (zero when reads need not wait).</summary>
    public TimeSpan PauseLeft => PausedUntil - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>
    /// Waits for a slot and for any pause to pass; dispose the result when the read has its answer. A read nobody waits for
    /// (<paramref name="patience"/> cannot be cancelled: a background refresh) does not wait out a pause: it returns null
    /// and the read is not made.
    /// </summary>
    /// <param name="patience">Cancelled when the callers waiting for this read stop waiting.</param>
    public async Task<IDisposable?> EnterAsync(CancellationToken patience)
    {
        while (true)
        {
            await _slots.WaitAsync(patience);
            var wait = PausedUntil - time.GetUtcNow();
            if (wait <= TimeSpan.Zero)
            {
                return new Slot(_slots);
            }
            _slots.Release();
            if (!patience.CanBeCanceled)
            {
                return null;
            }
            await Task.Delay(wait, time, patience);
        }
    }

    /// <summary>The vault answered 429: every read from this instance waits.</summary>
    public void Throttled(TimeSpan? retryAfter)
    {
        lock (_lock)
        {
            _throttles++;
            var until = time.GetUtcNow() + LoadBackoff.Delay(_throttles, retryAfter, _random());
            _pausedUntil = until > _pausedUntil ? until : _pausedUntil;
        }
    }

    /// <summary>The vault answered something other than 429: the spread starts small again.</summary>
    public void Answered()
    {
        lock (_lock)
        {
            _throttles = 0;
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
