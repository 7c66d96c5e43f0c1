namespace ServiceNodeInvoker.Primitives;

/// <summary>
/// Arrays over 1 MiB for envelopes, reused instead of left to the GC: with the shared ArrayPool they
/// piled up per core (3 GiB resident after a burst), and as plain allocations the large-object heap
/// grew to twice the live data before a collection. Sizes are rounded up to whole MiB; arrays in use
/// and kept idle together stay within <c>capacity</c> (the budget's size); after <see cref="IdleTrim"/> without use the pool lets go of
/// them all and asks for one compacting collection, so the memory goes back after a burst.
/// </summary>
internal sealed class LargeBufferPool : IDisposable
{
    public static readonly TimeSpan IdleTrim = TimeSpan.FromSeconds(10);
    private const int Unit = 1024 * 1024;

    private readonly long _capacity;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<byte[]> _idle = [];
    private readonly ITimer _trimmer;
    private long _idleBytes;
    private long _rentedBytes;
    private long _lastUse;

    public LargeBufferPool(long capacity, TimeProvider time)
    {
        _capacity = capacity;
        _time = time;
        _trimmer = time.CreateTimer(_ => Trim(), null, IdleTrim / 2, IdleTrim / 2);
    }

    public byte[] Rent(int size)
    {
        var rounded = (int)Math.Min(int.MaxValue, (size + (long)Unit - 1) / Unit * Unit);
        lock (_gate)
        {
            _lastUse = _time.GetTimestamp();
            // The smallest idle array that fits without wasting more than a quarter.
            var best = -1;
            for (var i = 0; i < _idle.Count; i++)
            {
                var length = _idle[i].Length;
                if (length >= rounded && length <= rounded + rounded / 4 && (best < 0 || length < _idle[best].Length))
                {
                    best = i;
                }
            }
            if (best >= 0)
            {
                var array = _idle[best];
                _idle.RemoveAt(best);
                _idleBytes -= array.Length;
                _rentedBytes += array.Length;
                return array;
            }
            // No idle array fits: give idle ones up rather than hold them beside a new one beyond the capacity.
            while (_idle.Count > 0 && _idleBytes + _rentedBytes + rounded > _capacity)
            {
                _idleBytes -= _idle[0].Length;
                _idle.RemoveAt(0);
            }
            _rentedBytes += rounded;
        }
        return GC.AllocateUninitializedArray<byte>(rounded);
    }

    public void Return(byte[] array)
    {
        lock (_gate)
        {
            _lastUse = _time.GetTimestamp();
            _rentedBytes -= array.Length;
            if (_idleBytes + _rentedBytes + array.Length <= _capacity)
            {
                _idle.Add(array);
                _idleBytes += array.Length;
            }
        }
    }

    private void Trim()
    {
        long released;
        lock (_gate)
        {
            if (_idle.Count == 0 || _time.GetElapsedTime(_lastUse) < IdleTrim)
            {
                return;
            }
            released = _idleBytes;
            _idle.Clear();
            _idleBytes = 0;
        }
        if (released >= 64L * Unit)
        {
            // Enough to matter on a 2 GiB instance: hand it back now rather than at some later collection.
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }

    public void Dispose() => _trimmer.Dispose();
}
