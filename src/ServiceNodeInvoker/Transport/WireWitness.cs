using System.Net.Sockets;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// Sits between a backend connection's socket and its TLS stream and remembers what the server sent
/// until the handshake completed (the first 16 KiB: hellos, certificates, alerts, or whatever non-TLS
/// bytes a wrong port sends), how the connection ended, and whether anything came after the handshake.
/// It changes nothing on the wire. The failure classifier reads it (as <see cref="ServerFlight"/>) to
/// name the cause from evidence instead of from the exception's type alone.
/// </summary>
public sealed class WireWitness(Stream inner) : Stream
{
    /// <summary>How much of the server's side is kept: a handshake flight with a long chain fits.</summary>
    public const int KeepBytes = 16 * 1024;

    /// <summary>The request option that carries the witness of the connection a request opened.</summary>
    public static readonly HttpRequestOptionsKey<WireWitness> OptionKey = new("ServiceNodeInvoker.WireWitness");

    private byte[]? _kept = new byte[KeepBytes];
    private int _keptCount;
    private ServerFlight? _flight;
    private volatile bool _handshakeCompleted;

    /// <summary>The TLS handshake completed on this connection (set by its owner).</summary>
    public bool HandshakeCompleted => _handshakeCompleted;

    /// <summary>Bytes the server sent before the handshake completed.</summary>
    public long BytesBeforeHandshake { get; private set; }

    /// <summary>Bytes the server sent after the handshake completed.</summary>
    public long BytesAfterHandshake { get; private set; }

    /// <summary>The server ended the connection (a read returned 0).</summary>
    public bool EndOfStream { get; private set; }

    /// <summary>The socket error that ended a read, when one did (a reset, typically).</summary>
    public SocketError? ReadError { get; private set; }

    /// <summary>The handshake completed: what the server sent is parsed now and the bytes let go (a pooled connection lives long).</summary>
    public void MarkHandshakeCompleted()
    {
        _flight = Flight();
        _kept = null;
        _handshakeCompleted = true;
    }

    /// <summary>What the server sent before the handshake completed, parsed.</summary>
    public ServerFlight Flight() => _flight ?? ServerFlight.Parse(_kept.AsSpan(0, _keptCount));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException e) when (e.InnerException is SocketException socket)
        {
            ReadError = socket.SocketErrorCode;
            throw;
        }
        catch (SocketException socket)
        {
            ReadError = socket.SocketErrorCode;
            throw;
        }
        Record(buffer.Span[..read]);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Record(buffer.AsSpan(offset, read));
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Record(ReadOnlySpan<byte> received)
    {
        if (received.Length == 0)
        {
            EndOfStream = true;
            return;
        }
        if (_handshakeCompleted)
        {
            BytesAfterHandshake += received.Length;
            return;
        }
        BytesBeforeHandshake += received.Length;
        if (_kept is { } kept)
        {
            var room = Math.Min(received.Length, KeepBytes - _keptCount);
            received[..room].CopyTo(kept.AsSpan(_keptCount));
            _keptCount += room;
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
