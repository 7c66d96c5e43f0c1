using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// The backend connection's socket stream, remembering what the server sent
/// until the handshake completed (the first 16 KiB: hellos, certificates, alerts, or whatever non-TLS
/// bytes a wrong port sends), how the connection ended, and whether anything came after the handshake.
/// It changes nothing on the wire. The failure classifier reads it (as <see cref="ServerFlight"/>) to
/// name the cause from evidence instead of from the exception's type alone. It is a NetworkStream, so
/// SocketsHttpHandler still sees the socket and checks idle pooled connections by polling it (for another
/// stream type it posts a read-ahead on every reuse: measured 10–13 % fewer envelope invocations).
/// </summary>
internal sealed class WireWitness(Socket socket) : NetworkStream(socket, ownsSocket: true), IValueTaskSource<int>
{
    /// <summary>How much of the server's side is kept: a handshake flight with a long chain fits.</summary>
    public const int KeepBytes = 16 * 1024;

    // The witness of the connection each request opened. Not the request's Options: HttpRequestMessage creates its Options
    // dictionary on first access, so looking there allocated one on every request (most open no connection). The table's
    // lookup is lock-free and allocates nothing; an entry lives as long as its request message.
    private static readonly ConditionalWeakTable<HttpRequestMessage, WireWitness> Opened = new();

    /// <summary>Marks <paramref name="message"/> as the request that opened this witness's connection (the connect callback).</summary>
    public static void Attach(HttpRequestMessage message, WireWitness witness) => Opened.AddOrUpdate(message, witness);

    /// <summary>The witness of the connection a request was sent on, when one was opened for it.</summary>
    public static WireWitness? Of(HttpRequestMessage? message) =>
        message is not null && Opened.TryGetValue(message, out var witness) ? witness : null;

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

    // Every read of the connection's life passes here (SslStream reads its records through it), so it must cost nothing a
    // plain NetworkStream does not: a read that completes at once is recorded on the spot; one that waits completes through
    // this witness itself, reused read after read (a stream has one read outstanding at a time), with no state machine and
    // no allocation. The async override it replaces allocated a state-machine box per waiting read (~140 B per passthrough
    // invocation, and a pooled builder did not avoid it: 16 connections keep more reads in flight than its cache holds).
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ValueTask<int> pending;
        try
        {
            pending = base.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException e) when (e.InnerException is SocketException socketError)
        {
            ReadError = socketError.SocketErrorCode;
            throw;
        }
        if (pending.IsCompleted)
        {
            int read;
            try
            {
                read = pending.GetAwaiter().GetResult();
            }
            catch (IOException e) when (e.InnerException is SocketException socketError)
            {
                ReadError = socketError.SocketErrorCode;
                throw;
            }
            Record(buffer.Span[..read]);
            return new ValueTask<int>(read);
        }
        _pending = pending;
        _pendingBuffer = buffer;
        _read.Reset();
        pending.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReadCompleted ??= OnReadCompleted);
        return new ValueTask<int>(this, _read.Version);
    }

    private ManualResetValueTaskSourceCore<int> _read; // a mutable struct: never copied, never readonly
    private ValueTask<int> _pending;
    private Memory<byte> _pendingBuffer;
    private Action? _onReadCompleted;

    private void OnReadCompleted()
    {
        var (pending, buffer) = (_pending, _pendingBuffer);
        (_pending, _pendingBuffer) = (default, default);
        int read;
        try
        {
            read = pending.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            if (e is IOException { InnerException: SocketException socketError })
            {
                ReadError = socketError.SocketErrorCode;
            }
            _read.SetException(e);
            return;
        }
        Record(buffer.Span[..read]);
        _read.SetResult(read); // the reader's continuation runs here, where the socket's completion already runs it
    }

    int IValueTaskSource<int>.GetResult(short token) => _read.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _read.OnCompleted(continuation, state, token, flags);

    public override int Read(Span<byte> buffer)
    {
        var read = base.Read(buffer);
        Record(buffer[..read]);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

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
}
