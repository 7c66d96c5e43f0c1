using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>One request as the raw backend read it.</summary>
public sealed record RawRequest(string Method, string Target, IReadOnlyList<(string Name, string Value)> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>What the raw backend sends back: exact bytes, then keep the connection or close it.</summary>
public sealed record RawReply(byte[] Bytes, bool Close = false, bool Hang = false)
{
    /// <summary>Header lines are written exactly as given (CRLF added), in Latin-1 so obs-text bytes go out as they are.</summary>
    public static RawReply Of(string head, byte[]? body = null, bool close = false)
    {
        var bytes = Encoding.Latin1.GetBytes(head.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal).TrimEnd('\r', '\n') + "\r\n\r\n");
        return new RawReply(body is null ? bytes : [.. bytes, .. body], close);
    }
}

/// <summary>
/// A TLS server on loopback that answers with exactly the bytes a test gives it, the way nginx,
/// Apache or a small Python service would put them on the wire (Kestrel never sends most of them).
/// It reads HTTP/1.1 requests with Content-Length bodies and counts connections.
/// </summary>
public sealed class RawTlsBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<RawRequest, RawReply> _reply;
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _chain;
    private readonly CancellationTokenSource _stop = new();
    private int _connections;

    public RawTlsBackend(Func<RawRequest, RawReply> reply, X509Certificate2? certificate = null, X509Certificate2Collection? chain = null)
    {
        _reply = reply;
        _certificate = certificate ?? TestPki.Instance.Server;
        _chain = chain ?? TestPki.Instance.Intermediate.Intermediates();
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public Uri BaseAddress => new($"https://localhost:{Port}");
    public int Connections => Volatile.Read(ref _connections);
    public List<RawRequest> Requests { get; } = [];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = SslStreamCertificateContext.Create(_certificate, _chain, offline: true),
                    ClientCertificateRequired = false,
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    EnabledSslProtocols = SslProtocols.None,
                }, _stop.Token);
                var buffer = new List<byte>();
                while (!_stop.IsCancellationRequested)
                {
                    var request = await ReadRequestAsync(tls, buffer);
                    if (request is null)
                    {
                        return;
                    }
                    lock (Requests)
                    {
                        Requests.Add(request);
                    }
                    var reply = _reply(request);
                    await tls.WriteAsync(reply.Bytes, _stop.Token);
                    await tls.FlushAsync(_stop.Token);
                    if (reply.Hang)
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    }
                    if (reply.Close)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or AuthenticationException or SocketException or ObjectDisposedException)
            {
                // the client went away, or the test is over
            }
        }
    }

    private async Task<RawRequest?> ReadRequestAsync(Stream stream, List<byte> buffer)
    {
        var chunk = new byte[16 * 1024];
        int headEnd;
        while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
        {
            var read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                return null;
            }
            buffer.AddRange(chunk.AsSpan(0, read));
        }
        var head = Encoding.Latin1.GetString(buffer.GetRange(0, headEnd).ToArray()).Split("\r\n");
        buffer.RemoveRange(0, headEnd + 4);
        var start = head[0].Split(' ');
        var headers = head.Skip(1).Select(l => (l[..l.IndexOf(':')], l[(l.IndexOf(':') + 1)..].Trim())).ToList();
        var length = headers.Where(h => h.Item1.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => int.Parse(h.Item2)).FirstOrDefault();
        while (buffer.Count < length)
        {
            var read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                return null;
            }
            buffer.AddRange(chunk.AsSpan(0, read));
        }
        var body = buffer.GetRange(0, length).ToArray();
        buffer.RemoveRange(0, length);
        return new RawRequest(start[0], start[1], headers, body);
    }

    private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> pattern)
    {
        for (var i = 0; i + pattern.Length <= buffer.Count; i++)
        {
            var match = true;
            for (var j = 0; j < pattern.Length && match; j++)
            {
                match = buffer[i + j] == pattern[j];
            }
            if (match)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>A client that calls the raw backend directly, trusting the test root, decoding nothing: the baseline "direct call".</summary>
    public HttpClient DirectClient()
    {
        var root = TestPki.Instance.RootPublic;
        return new HttpClient(new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(root);
                    chain.ChainPolicy.ExtraStore.AddRange(TestPki.Instance.Intermediate.Intermediates());
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return certificate is X509Certificate2 c && chain.Build(c);
                },
            },
        }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _stop.Dispose();
    }
}
