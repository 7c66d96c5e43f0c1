namespace ServiceNodeInvoker.Primitives;

/// <summary>A share of a memory budget that a body read into memory grows before each buffer it takes.</summary>
internal interface IBufferReservation
{
    /// <summary>The large arrays the body is read into, beyond what the shared pool holds.</summary>
    LargeBufferPool Pool { get; }

    /// <summary>Makes the reservation at least <paramref name="total"/> bytes, waiting for room if needed (or throwing when there is none).</summary>
    ValueTask GrowToAsync(long total, CancellationToken token);
}

/// <summary>
/// A body read into pooled buffers, up to a limit: the one bounded read (a caller's request, a backend's envelope
/// body, a token endpoint's answer). Dispose returns the buffers.
/// </summary>
internal sealed class BoundedBody : IDisposable
{
    private const int ReadSize = 16 * 1024;
    private readonly PooledBufferWriter _buffer;

    private BoundedBody(int initialCapacity, LargeBufferPool? large) => _buffer = new PooledBufferWriter(Math.Max(initialCapacity, 256), large);

    public ReadOnlyMemory<byte> Memory => _buffer.WrittenMemory;

    /// <param name="tooLarge">The error when the body is (or is declared) longer than <paramref name="limit"/>.</param>
    /// <param name="reservation">When given, every buffer is reserved in its budget before it is allocated.</param>
    /// <returns>A ValueTask: a body already in the server's buffers (a small request) is read without allocating a task.</returns>
    public static async ValueTask<BoundedBody> ReadAsync(Stream stream, long? declaredLength, long limit, Func<Exception> tooLarge,
        CancellationToken token, IBufferReservation? reservation = null)
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
