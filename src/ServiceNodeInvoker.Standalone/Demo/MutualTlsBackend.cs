using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ServiceNodeInvoker.Standalone.Demo;

/// <summary>Settings of a <see cref="MutualTlsBackend"/>.</summary>
public sealed class MutualTlsBackendOptions
{
    public required X509Certificate2 ServerCertificate { get; init; }
    public X509Certificate2Collection ServerChain { get; init; } = [];

    /// <summary>The only root client certificates may chain to; null: no client certificate is asked for.</summary>
    public X509Certificate2? ClientRoot { get; init; }

    /// <summary>Name <see cref="ClientRoot"/> in the CertificateRequest as the CA it accepts (as nginx's ssl_client_certificate does).</summary>
    public bool AnnounceClientRoot { get; init; }

    public SslProtocols Protocols { get; init; } = SslProtocols.None;

    public HttpProtocols HttpProtocols { get; init; } = HttpProtocols.Http1AndHttp2;
}

/// <summary>
/// A Kestrel HTTPS server on loopback that requires a client certificate chaining to one root, as
/// an enterprise backend does. It counts connections and records each client chain it validated.
/// The demo serves /echo from it; tests add routes.
/// </summary>
public sealed class MutualTlsBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;
    private int _requests;

    private MutualTlsBackend(WebApplication app) => _app = app;

    public int Port { get; private set; }

    /// <summary>https://localhost:port — the name the server certificates are issued for.</summary>
    public Uri BaseAddress => new($"https://localhost:{Port}");

    /// <summary>TCP connections accepted (each one is a TLS handshake).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>HTTP requests that reached the application.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Validated client chains, leaf first, by the leaf's SHA-256 thumbprint.</summary>
    public ConcurrentDictionary<string, string[]> ClientChains { get; } = new();

    public static async Task<MutualTlsBackend> StartAsync(MutualTlsBackendOptions options, Action<WebApplication>? routes = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Its own server, configured here alone: not from the invoker's appsettings.json (its Kestrel:Endpoints would bind
        // here too, and follow the file's edits), nor from the environment or the command line.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        MutualTlsBackend? backend = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = options.HttpProtocols;
                listen.Use(next => connection =>
                {
                    Interlocked.Increment(ref backend!._connections);
                    return next(connection);
                });
                listen.UseHttps(Https(options, () => backend!));
            });
        });
        var app = builder.Build();
        backend = new MutualTlsBackend(app);
        app.Use((context, next) =>
        {
            Interlocked.Increment(ref backend._requests);
            return next(context);
        });
        app.MapMethods("/echo", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"], backend.EchoAsync);
        routes?.Invoke(app);
        await app.StartAsync();
        backend.Port = new Uri(app.Urls.First()).Port;
        return backend;
    }

    private static HttpsConnectionAdapterOptions Https(MutualTlsBackendOptions options, Func<MutualTlsBackend> backend)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = options.ServerCertificate,
            ServerCertificateChain = options.ServerChain,
            SslProtocols = options.Protocols,
            ClientCertificateMode = options.ClientRoot is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.RequireCertificate,
            CheckCertificateRevocation = false,
        };
        if (options.ClientRoot is { } root)
        {
            https.OnAuthenticate = (_, ssl) =>
            {
                ssl.CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = X509RevocationMode.NoCheck,
                    CustomTrustStore = { root },
                };
                if (options.AnnounceClientRoot)
                {
                    ssl.ServerCertificate = null;
                    ssl.ServerCertificateContext = SslStreamCertificateContext.Create(options.ServerCertificate, options.ServerChain, offline: true,
                        trust: SslCertificateTrust.CreateForX509Collection(new X509Certificate2Collection(root), sendTrustInHandshake: true));
                }
            };
            https.ClientCertificateValidation = (certificate, chain, errors) =>
            {
                if (errors != SslPolicyErrors.None || chain is null)
                {
                    return false;
                }
                backend().ClientChains[Thumbprint(certificate)] =
                    chain.ChainElements.Select(e => e.Certificate.Subject).ToArray();
                return true;
            };
        }
        return https;
    }

    private async Task EchoAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var client = context.Connection.ClientCertificate;
        var chain = client is null ? null : ClientChains.GetValueOrDefault(Thumbprint(client));
        await context.Response.WriteAsJsonAsync(new Dictionary<string, object?>
        {
            ["message"] = "Hello from the demo backend: you reached it over mutual TLS.",
            ["method"] = context.Request.Method,
            ["path"] = context.Request.Path.Value,
            ["clientCertificate"] = client?.Subject,
            ["clientChainVerified"] = chain is not null,
            ["clientChain"] = chain,
            ["tlsProtocol"] = context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>()?.Protocol.ToString(),
            ["receivedContentType"] = context.Request.ContentType,
            ["receivedBody"] = body,
        });
    }

    public static string Thumbprint(X509Certificate certificate) => Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
