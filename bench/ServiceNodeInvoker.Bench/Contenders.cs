using ServiceNodeInvoker.TestSupport;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Standalone;
using ServiceNodeInvoker.Standalone.Demo;
using Yarp.ReverseProxy.Forwarder;

namespace ServiceNodeInvoker.Bench;

/// <summary>One way of getting a JSON payload to the mTLS backend and back.</summary>
public abstract class Contender : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>A client tuned alike for every contender: pooled, no proxy, enough connections.</summary>
    public HttpClient Client { get; protected set; } = null!;

    /// <summary>Another process whose CPU time belongs to this contender (nginx).</summary>
    public virtual Process? External => null;

    public abstract HttpRequestMessage Request(byte[] payload);

    public static SocketsHttpHandler LoadHandler() => new()
    {
        UseProxy = false, UseCookies = false, AllowAutoRedirect = false,
        MaxConnectionsPerServer = 256, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    };

    public virtual ValueTask DisposeAsync()
    {
        Client.Dispose();
        return ValueTask.CompletedTask;
    }

    protected static ByteArrayContent Json(byte[] bytes) => new(bytes) { Headers = { ContentType = new("application/json") } };
}

/// <summary>A contender served by a WebApplication in this process: stopped with it.</summary>
public abstract class HostedContender(WebApplication app) : Contender
{
    public WebApplication App => app;

    protected HttpClient ClientFor(WebApplication host) => new(LoadHandler()) { BaseAddress = new Uri(host.Urls.First()) };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>The physical limit: HttpClient straight to the backend with the client certificate and chain.</summary>
public sealed class Direct : Contender
{
    private readonly Uri _url;

    public Direct(BenchPki pki, MutualTlsBackend backend)
    {
        _url = new Uri(backend.BaseAddress, "/data");
        var handler = LoadHandler();
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificateContext = SslStreamCertificateContext.Create(pki.Client, [pki.IntermediatePublic], offline: true),
            RemoteCertificateValidationCallback = Trust(pki),
            AllowTlsResume = false,
        };
        Client = new HttpClient(handler);
    }

    public override string Name => "direct HttpClient (baseline)";

    public override HttpRequestMessage Request(byte[] payload) => new(HttpMethod.Post, _url) { Content = Json(payload) };

    public static RemoteCertificateValidationCallback Trust(BenchPki pki) => (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) { return false; }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(pki.RootPublic);
        chain.ChainPolicy.ExtraStore.Add(pki.IntermediatePublic);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    };
}

/// <summary>Ours: the standalone host, in this process, on loopback HTTP.</summary>
public sealed class Invoker : HostedContender
{
    private const string Key = "bench-api-key";
    private readonly Uri _target;
    private readonly bool _passthrough;
    private readonly bool _forward;

    private Invoker(WebApplication app, Uri target, bool passthrough, bool forward) : base(app)
    {
        _target = target;
        _passthrough = passthrough;
        _forward = forward;
        Client = ClientFor(app);
        Client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, Key);
    }

    /// <param name="forward">Forward mode (<c>POST /api/forward/bench/data</c> with the payload as the body) instead of /api/invoke.</param>
    public static async Task<Invoker> StartAsync(BenchPki pki, MutualTlsBackend backend, bool passthrough,
        Action<Dictionary<string, string?>>? adjust = null, Action<WebApplicationBuilder>? services = null, bool forward = false)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Invoker:AllowLoopback"] = "true",
            ["Invoker:Profiles:bench:Hosts:0"] = $"localhost:{backend.Port}",
            ["Invoker:Profiles:bench:ClientCertificate:Source"] = "File",
            ["Invoker:Profiles:bench:ClientCertificate:Path"] = pki.ClientPfx,
            ["Invoker:Profiles:bench:ClientCertificate:Password"] = "bench",
            ["Invoker:Profiles:bench:TrustedCa:Source"] = "File",
            ["Invoker:Profiles:bench:TrustedCa:Path"] = pki.RootPem,
            ["Invoker:Profiles:bench:MaxResponseBytes"] = (200L * 1024 * 1024).ToString(),
            ["Invoker:Callers:ApiKeys:bench"] = ApiKeyAuthenticator.HashKey(Key),
            ["Invoker:Profiles:bench:BaseUrl"] = backend.BaseAddress.ToString(),
        };
        adjust?.Invoke(settings);
        var app = StandaloneApp.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(settings);
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            services?.Invoke(b);
        });
        await app.StartAsync();
        return new Invoker(app, new Uri(backend.BaseAddress, "/data"), passthrough, forward);
    }

    public override string Name => _forward ? "invoker, forward" : _passthrough ? "invoker, passthrough" : "invoker, envelope";

    public override HttpRequestMessage Request(byte[] payload)
    {
        if (_forward)
        {
            return new HttpRequestMessage(HttpMethod.Post, "/api/forward/bench/data") { Content = Json(payload) };
        }
        var head = Encoding.UTF8.GetBytes($"{{\"method\":\"POST\",\"url\":\"{_target}\",\"response\":\"{(_passthrough ? "passthrough" : "envelope")}\",\"body\":");
        var body = new byte[head.Length + payload.Length + 1];
        head.CopyTo(body, 0);
        payload.CopyTo(body, head.Length);
        body[^1] = (byte)'}';
        return new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = Json(body) };
    }

    public HttpRequestMessage Stream(long size) => new(HttpMethod.Post, "/api/invoke")
    {
        Content = Json(Encoding.UTF8.GetBytes($"{{\"method\":\"GET\",\"url\":\"{new Uri(_target, $"/stream?size={size}")}\",\"response\":\"passthrough\",\"timeoutSeconds\":120}}")),
    };

}

/// <summary>YARP's forwarder with an equivalent mTLS handler, in this process.</summary>
public sealed class Yarp : HostedContender
{
    private Yarp(WebApplication app) : base(app) => Client = ClientFor(app);

    public static async Task<Yarp> StartAsync(BenchPki pki, MutualTlsBackend backend)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("YARP_DEBUG") is not null) { builder.Logging.AddConsole(); }
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
            EnableMultipleHttp2Connections = true, ActivityHeadersPropagator = null,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = SslStreamCertificateContext.Create(pki.Client, [pki.IntermediatePublic], offline: true),
                RemoteCertificateValidationCallback = Direct.Trust(pki),
                AllowTlsResume = false, // as ours: .NET servers see no client certificate on resumed sessions
            },
        });
        var destination = backend.BaseAddress.ToString();
        // Returns nothing: a returned ForwarderError would be written after YARP's response.
        app.Map("/{**path}", async Task (HttpContext context, IHttpForwarder forwarder) =>
        {
            await forwarder.SendAsync(context, destination, invoker, ForwarderRequestConfig.Empty, HttpTransformer.Default);
        });
        await app.StartAsync();
        return new Yarp(app);
    }

    public override string Name => "YARP forwarder";

    public override HttpRequestMessage Request(byte[] payload) => new(HttpMethod.Post, "/data") { Content = Json(payload) };

}

/// <summary>nginx as an mTLS-originating reverse proxy (Debian's package; installed by the harness when missing).</summary>
public sealed class Nginx : Contender
{
    private readonly Process _process;

    private Nginx(Process process, int port)
    {
        _process = process;
        Client = new HttpClient(LoadHandler()) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public override Process? External => _process;

    public static async Task<Nginx?> StartAsync(BenchPki pki, MutualTlsBackend backend)
    {
        if (!File.Exists("/usr/sbin/nginx"))
        {
            Console.WriteLine("nginx missing: installing Debian's nginx-light …");
            await Run("apt-get", "update -qq");
            await Run("apt-get", "install -y -qq nginx-light");
            await Run("sh", "-c \"nginx -s stop || true\"");
            if (!File.Exists("/usr/sbin/nginx")) { return null; }
        }
        var port = ExternalLoad.FreePort();
        var prefix = Path.Combine(pki.Directory, "nginx");
        Directory.CreateDirectory(Path.Combine(prefix, "logs"));
        var conf = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(conf, $$"""
            {{NginxConfig.Preamble(prefix, workers: 2, connections: 4096)}}
            http {
              access_log off;
              client_max_body_size 200m;
              client_body_buffer_size 2m;
              proxy_buffer_size 64k;
              proxy_buffers 32 64k;
              upstream backend { server 127.0.0.1:{{backend.Port}}; keepalive 128; }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  {{ProxySsl(pki)}}
                }
              }
            }
            """);
        var process = Process.Start(new ProcessStartInfo("/usr/sbin/nginx", $"-p {prefix} -c {conf}") { RedirectStandardError = true })!;
        var nginx = new Nginx(process, port);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var probe = await nginx.Client.SendAsync(nginx.Request("[]"u8.ToArray()));
                if (probe.IsSuccessStatusCode) { return nginx; }
            }
            catch (HttpRequestException) { }
            await Task.Delay(50); // nginx starting: poll until it answers, bounded by the deadline
        }
        Console.WriteLine("nginx did not come up: " + await process.StandardError.ReadToEndAsync());
        return null;
    }

    /// <summary>The location's directives: upstream keep-alive, leaf + chain, the backend verified against the bench root, no session reuse.</summary>
    public static string ProxySsl(BenchPki pki) => $"""
        proxy_pass https://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host localhost;
        proxy_ssl_certificate {pki.ClientChainPem}; proxy_ssl_certificate_key {pki.ClientKeyPem};
        proxy_ssl_trusted_certificate {pki.RootPem}; proxy_ssl_verify on; proxy_ssl_verify_depth 3;
        proxy_ssl_name localhost; proxy_ssl_server_name on; proxy_ssl_session_reuse off;
        """;

    public override string Name => "nginx proxy_ssl";

    public override HttpRequestMessage Request(byte[] payload) => new(HttpMethod.Post, "/data") { Content = Json(payload) };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (!_process.HasExited) { _process.Kill(); await _process.WaitForExitAsync(); }
    }

    private static async Task Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
    }
}
