using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Invocation;

/// <summary>A body read into pooled buffers, up to a limit. Dispose returns the buffers.</summary>
internal sealed class BoundedBody : IDisposable
{
    private const int ReadSize = 16 * 1024;
    private readonly PooledBufferWriter _buffer;

    private BoundedBody(int initialCapacity, LargeBufferPool? large) => _buffer = new PooledBufferWriter(Math.Max(initialCapacity, 256), large);

    public ReadOnlyMemory<byte> Memory => _buffer.WrittenMemory;

    /// <param name="reservation">When given, every buffer is reserved in the global budget before it is allocated.</param>
    public static async Task<BoundedBody> ReadAsync(Stream stream, long? declaredLength, long limit, Func<InvokerException> tooLarge,
        CancellationToken token, ResponseBufferBudget.Reservation? reservation = null)
    {
        if (declaredLength > limit)
        {
            throw tooLarge();
        }
        // A declared length sizes the buffer exactly (plus one byte to see the end); otherwise it grows by doubling.
        var initial = Math.Max((int)Math.Min((declaredLength ?? 4095) + 1, limit + 1), 256);
        if (reservation is not null)
        {
            await reservation.GrowToAsync(initial, token);
        }
        var body = new BoundedBody(initial, reservation?.Pool);
        try
        {
            while (true)
            {
                var hint = declaredLength is null ? ReadSize : 1;
                if (reservation is not null)
                {
                    await reservation.GrowToAsync(body._buffer.CapacityFor(hint), token);
                }
                var read = await stream.ReadAsync(body._buffer.GetMemory(hint), token);
                if (read == 0)
                {
                    return body;
                }
                body._buffer.Advance(read);
                if (body._buffer.WrittenMemory.Length > limit)
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

    public void Dispose() => _buffer.Dispose();
}
