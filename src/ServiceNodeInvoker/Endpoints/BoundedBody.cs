using System.Buffers;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>A body read into a pooled buffer, up to a limit. Dispose returns the buffer.</summary>
public sealed class BoundedBody : IDisposable
{
    private byte[] _buffer;
    private int _length;

    private BoundedBody(int initialCapacity) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256));

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    public static async Task<BoundedBody> ReadAsync(Stream stream, long? declaredLength, long limit, Func<InvokerException> tooLarge, CancellationToken token)
    {
        if (declaredLength > limit)
        {
            throw tooLarge();
        }
        var body = new BoundedBody((int)Math.Min(declaredLength ?? 4096, limit + 1));
        try
        {
            while (true)
            {
                if (body._length == body._buffer.Length)
                {
                    body.Grow();
                }
                var read = await stream.ReadAsync(body._buffer.AsMemory(body._length), token);
                if (read == 0)
                {
                    return body;
                }
                body._length += read;
                if (body._length > limit)
                {
                    throw tooLarge();
                }
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private void Grow()
    {
        var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _length = 0;
    }
}
