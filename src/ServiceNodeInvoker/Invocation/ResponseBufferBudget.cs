using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// A global budget for response bytes held in memory (envelope bodies and the envelopes built from
/// them). Each envelope reserves what it buffers as it grows; a reservation that does not fit waits
/// briefly for others to finish, then fails with 503 <c>busy</c> and a Retry-After, so many large
/// envelopes at once queue or are refused instead of exhausting the instance's memory.
/// </summary>
internal sealed class ResponseBufferBudget(long capacity, TimeSpan wait, TimeProvider time) : IDisposable
{
    /// <summary>The large arrays envelopes are built in, reused up to the budget's size.</summary>
    public LargeBufferPool Pool { get; } = new(capacity, time);

    public void Dispose() => Pool.Dispose();

    /// <summary>Default: 512 MiB, room for the runtime and connections beside it on a 2 GiB Flex instance.</summary>
    public const long DefaultCapacity = 512L * 1024 * 1024;

    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private long _inUse;
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Capacity => capacity;

    public long InUse
    {
        get
        {
            lock (_gate)
            {
                return _inUse;
            }
        }
    }

    public Reservation Open() => new(this);

    private async ValueTask TakeAsync(long bytes, CancellationToken token)
    {
        if (bytes > capacity)
        {
            throw Busy($"a single response needs {bytes} bytes, more than the whole budget (Invoker:MaxBufferedResponseBytes = {capacity})", retry: false);
        }
        var deadline = time.GetUtcNow() + wait;
        while (true)
        {
            Task released;
            lock (_gate)
            {
                if (_inUse + bytes <= capacity)
                {
                    _inUse += bytes;
                    return;
                }
                released = _released.Task;
            }
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                throw Busy($"{InUse} of {capacity} bytes are held by other responses in flight", retry: true);
            }
            try
            {
                await released.WaitAsync(left, time, token);
            }
            catch (TimeoutException)
            {
                // loop once more: the deadline check gives the error
            }
        }
    }

    private void Give(long bytes)
    {
        TaskCompletionSource wake;
        lock (_gate)
        {
            _inUse -= bytes;
            wake = _released;
            _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
    }

    private static InvokerException Busy(string why, bool retry) =>
        new(ErrorCodes.Busy, $"The invoker's memory budget for buffered responses is exhausted: {why}. " +
            (retry ? "Retry shortly, or use response \"passthrough\", which streams and needs no budget." : "Use response \"passthrough\", which streams."))
        {
            RetryAfterSeconds = retry ? 1 : null,
        };

    /// <summary>What one invocation holds; it only grows, and is given back whole on dispose.</summary>
    public sealed class Reservation(ResponseBufferBudget budget) : IBufferReservation, IDisposable
    {
        private long _held;

        public LargeBufferPool Pool => budget.Pool;

        /// <summary>Makes the reservation at least <paramref name="total"/> bytes, waiting for room if needed.</summary>
        public async ValueTask GrowToAsync(long total, CancellationToken token)
        {
            if (total <= _held)
            {
                return;
            }
            await budget.TakeAsync(total - _held, token);
            _held = total;
        }

        public void Dispose()
        {
            var held = Interlocked.Exchange(ref _held, 0);
            if (held > 0)
            {
                budget.Give(held);
            }
        }
    }
}
