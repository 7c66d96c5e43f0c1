using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>A fact that needs python3 with its ssl module (on the machine image); elsewhere skipped, saying so.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (!PythonTlsServer.Available)
        {
            Skip = "python3 is not on PATH: the tests against Python's ssl server (OpenSSL's own alerts) need it";
        }
    }
}

/// <summary>A theory that needs python3; elsewhere skipped, saying so.</summary>
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute()
    {
        if (!PythonTlsServer.Available)
        {
            Skip = "python3 is not on PATH: the tests against Python's ssl server (OpenSSL's own alerts) need it";
        }
    }
}

/// <summary>
/// Python's ssl module as a TLS server: OpenSSL on the server side, so a refused client certificate gets
/// OpenSSL's own alert during the handshake (unknown_ca, certificate_required) — what Apache, HAProxy and
/// most non-.NET servers send — unlike nginx (a 400 page) and Kestrel (a close).
/// </summary>
public sealed class PythonTlsServer : IAsyncDisposable
{
    private const string Script = """
        import socket, ssl, sys
        cert, key, ca, maxver, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if ca != "-":
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if maxver == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        print(listener.getsockname()[1], flush=True)
        while True:
            raw, _ = listener.accept()
            try:
                conn = ctx.wrap_socket(raw, server_side=True)
                if mode == "close":
                    conn.close()  # a backend that fails after the handshake, before answering
                    continue
                data = conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                conn.close()
            except Exception:
                raw.close()
        """;

    private readonly Process _process;
    private readonly TempFiles _files;

    private PythonTlsServer(Process process, TempFiles files, int port)
    {
        _process = process;
        _files = files;
        Port = port;
    }

    public static bool Available => Environment.GetEnvironmentVariable("PATH")?.Split(':').Any(d => File.Exists(Path.Combine(d, "python3"))) == true;

    public int Port { get; }

    /// <param name="clientCa">Require a client certificate chaining to it (null: none asked for).</param>
    /// <param name="maxTls12">Cap the server at TLS 1.2 (its alerts then travel in the clear).</param>
    /// <param name="closeAfterHandshake">Close each connection right after the handshake, without answering.</param>
    public static async Task<PythonTlsServer> StartAsync(X509Certificate2 server, X509Certificate2Collection chain, X509Certificate2? clientCa, bool maxTls12 = false,
        bool closeAfterHandshake = false)
    {
        var files = new TempFiles();
        var script = files.Text("server.py", Script);
        var cert = files.CertificatePem("server.pem", [server, .. chain]);
        var key = files.Text("server.key", server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var ca = clientCa is null ? "-" : files.CertificatePem("client-ca.pem", clientCa);
        var process = Process.Start(new ProcessStartInfo("python3", [script, cert, key, ca, maxTls12 ? "1.2" : "1.3", closeAfterHandshake ? "close" : "answer"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = await process.StandardOutput.ReadLineAsync(deadline.Token);
        if (!int.TryParse(line, out var port))
        {
            process.Kill();
            throw new InvalidOperationException($"the Python TLS server did not start: {await process.StandardError.ReadToEndAsync()}");
        }
        return new PythonTlsServer(process, files, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _files.Dispose();
    }
}
