using System.Net;
using System.Net.Sockets;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// A TCP server on loopback that does exactly one thing with each connection: the way a wrong port, a
/// banner-first service, a dead proxy or a server that speaks an old TLS version behaves on the wire.
/// </summary>
public sealed class RawSocketServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<Socket, CancellationToken, Task> _serve;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];

    private RawSocketServer(Func<Socket, CancellationToken, Task> serve)
    {
        _serve = serve;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Sends <paramref name="bytes"/> as soon as the connection is accepted (SSH, SMTP, FTP banners), then waits.</summary>
    public static RawSocketServer Banner(byte[] bytes) => new(async (socket, token) =>
    {
        await socket.SendAsync(bytes, token);
        await DrainAsync(socket, token);
    });

    /// <summary>Reads what the client sends first (our TLS hello), answers with <paramref name="bytes"/>, then closes.</summary>
    public static RawSocketServer AnswerHello(byte[] bytes) => new(async (socket, token) =>
    {
        var buffer = new byte[16 * 1024];
        await socket.ReceiveAsync(buffer, token);
        await socket.SendAsync(bytes, token);
        socket.Shutdown(SocketShutdown.Send);
        await DrainAsync(socket, token);
    });

    /// <summary>Reads the hello, sends <paramref name="bytes"/> (the start of an answer) and then nothing more, holding the connection.</summary>
    public static RawSocketServer AnswerHelloAndHold(byte[] bytes) => new(async (socket, token) =>
    {
        var buffer = new byte[16 * 1024];
        await socket.ReceiveAsync(buffer, token);
        await socket.SendAsync(bytes, token);
        await DrainAsync(socket, token);
    });

    /// <summary>Accepts and never sends a byte (a port where the client must speak a protocol other than TLS, or a stuck proxy).</summary>
    public static RawSocketServer Silent() => new(DrainAsync);

    /// <summary>Accepts and closes at once, without a byte (a load balancer with no healthy backend).</summary>
    public static RawSocketServer CloseAtOnce() => new((socket, _) =>
    {
        socket.Shutdown(SocketShutdown.Both);
        socket.Close();
        return Task.CompletedTask;
    });

    /// <summary>Reads the hello and resets the connection (RST), as a firewall that inspects TLS does.</summary>
    public static RawSocketServer ResetAfterHello() => new(async (socket, token) =>
    {
        var buffer = new byte[16 * 1024];
        await socket.ReceiveAsync(buffer, token);
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    });

    private static async Task DrainAsync(Socket socket, CancellationToken token)
    {
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, token) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_open)
            {
                _open.Add(socket);
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await _serve(socket, _stop.Token);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                }
            });
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }
        return ValueTask.CompletedTask;
    }
}
