using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>A fact that needs Debian's nginx (.ci/run installs it); elsewhere it is skipped, saying so.</summary>
public sealed class NginxFactAttribute : FactAttribute
{
    public NginxFactAttribute()
    {
        if (!NginxBackend.Available)
        {
            Skip = $"nginx is not installed ({NginxBackend.Binary}): apt-get install nginx-light (.ci/run does)";
        }
    }
}

/// <summary>A theory that needs Debian's nginx; elsewhere it is skipped, saying so.</summary>
public sealed class NginxTheoryAttribute : TheoryAttribute
{
    public NginxTheoryAttribute()
    {
        if (!NginxBackend.Available)
        {
            Skip = $"nginx is not installed ({NginxBackend.Binary}): apt-get install nginx-light (.ci/run does)";
        }
    }
}

/// <summary>
/// Real nginx on loopback as the front of an mTLS backend: <c>ssl_verify_client on</c> with the test
/// root as the only client CA, so a missing or untrusted certificate gets nginx's own 400 pages
/// after a completed handshake. Routes: <c>/</c> echoes the client subject; <c>/own-400</c> and
/// <c>/own-400-html</c> are the backend's own 400s.
/// </summary>
public sealed class NginxBackend : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";
    private readonly Process _process;
    private readonly string _prefix;

    private NginxBackend(Process process, string prefix, int port)
    {
        _process = process;
        _prefix = prefix;
        Port = port;
    }

    public static bool Available => File.Exists(Binary);

    public int Port { get; }
    public Uri BaseAddress => new($"https://localhost:{Port}");

    public static Task<NginxBackend> StartAsync() => StartAsync(async (prefix, port) =>
    {
        var pki = TestPki.Instance;
        var chain = Path.Combine(prefix, "server.pem");
        await File.WriteAllTextAsync(chain, pki.Server.ExportCertificatePem() + "\n" + pki.IntermediatePublic.ExportCertificatePem());
        var key = Path.Combine(prefix, "server.key");
        await File.WriteAllTextAsync(key, pki.Server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var clientCa = Path.Combine(prefix, "client-ca.pem");
        await File.WriteAllTextAsync(clientCa, pki.RootPublic.ExportCertificatePem());
        return $$"""
            server {
              listen 127.0.0.1:{{port}} ssl;
              server_name localhost;
              ssl_certificate {{chain}};
              ssl_certificate_key {{key}};
              ssl_client_certificate {{clientCa}};
              ssl_verify_client on;
              ssl_verify_depth 3;
              location = /own-400 { default_type application/json; return 400 '{"error":"bad input"}'; }
              location = /own-400-html { default_type text/html; return 400 '<html><head><title>400 Bad Request</title></head><body>your request was bad</body></html>'; }
              location / { default_type application/json; return 200 '{"ok":true,"client":"$ssl_client_s_dn"}'; }
            }
            """;
    });

    /// <summary>nginx with a server block of the test's own, written by <paramref name="server"/> from nginx's folder and port.</summary>
    public static async Task<NginxBackend> StartAsync(Func<string, int, Task<string>> server)
    {
        var prefix = Directory.CreateTempSubdirectory("sni-nginx-").FullName;
        foreach (var folder in new[] { "logs", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(prefix, folder));
        }
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var block = await server(prefix, port);
        var conf = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(conf, $$"""
            {{NginxConfig.Preamble(prefix, workers: 1, connections: 64)}}
            http {
              access_log off;
              client_body_temp_path {{prefix}}/tmp/body;
              proxy_temp_path {{prefix}}/tmp/proxy;
              fastcgi_temp_path {{prefix}}/tmp/fastcgi;
              uwsgi_temp_path {{prefix}}/tmp/uwsgi;
              scgi_temp_path {{prefix}}/tmp/scgi;
            {{block}}
            }
            """);
        var process = Process.Start(new ProcessStartInfo(Binary, $"-p {prefix} -c {conf}") { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return new NginxBackend(process, prefix, port);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(25); // nginx starting: poll until it listens, bounded by the deadline
            }
            catch (SocketException)
            {
                var error = process.HasExited ? await process.StandardError.ReadToEndAsync() : "(still running, not listening)";
                throw new InvalidOperationException($"nginx did not start: {error}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_prefix, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp folder
        }
    }
}
