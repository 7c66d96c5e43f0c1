using System.Buffers;

namespace ServiceNodeInvoker.Primitives;

/// <summary>
/// An IBufferWriter over pooled arrays: the envelope is built here so it goes out in one write with a
/// Content-Length. Arrays up to 1 MiB come from the shared pool; larger ones are plain allocations the
/// GC takes back, because the shared pool would keep dozens of them per core after a burst of large
/// envelopes (seen: 3 GiB resident long after the load ended).
/// </summary>
/// <param name="large">Where arrays over 1 MiB come from; without one they are plain allocations.</param>
internal sealed class PooledBufferWriter(int initialCapacity, LargeBufferPool? large = null) : IBufferWriter<byte>, IDisposable
{
    public const int LargestPooled = 1024 * 1024;

    private readonly LargeBufferPool? _large = large;
    private byte[] _buffer = Rent(initialCapacity, large);
    private int _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public int Capacity => _buffer.Length;

    /// <summary>The capacity the buffer would have after asking for <paramref name="sizeHint"/> more bytes.</summary>
    public int CapacityFor(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        var grown = needed <= _buffer.Length ? _buffer.Length : Math.Max(needed, _buffer.Length * 2);
        return grown > LargestPooled ? (int)Math.Min(int.MaxValue, (grown + (long)LargestPooled - 1) / LargestPooled * LargestPooled) : grown;
    }

    private static byte[] Rent(int size, LargeBufferPool? large) =>
        size <= LargestPooled ? ArrayPool<byte>.Shared.Rent(size)
        : large is not null ? large.Rent(size)
        : GC.AllocateUninitializedArray<byte>(size);

    private void Return(byte[] buffer)
    {
        if (buffer.Length <= LargestPooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else
        {
            _large?.Return(buffer);
        }
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }
        var larger = Rent(Math.Max(needed, _buffer.Length * 2), _large);
        _buffer.AsSpan(0, _written).CopyTo(larger);
        Return(_buffer);
        _buffer = larger;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            Return(buffer);
        }
    }
}
