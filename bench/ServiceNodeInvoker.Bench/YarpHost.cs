using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Yarp.ReverseProxy.Forwarder;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// YARP's forwarder as its own process, built like our standalone host (slim builder, server GC, the
/// console logger in one line per entry, the template's log levels: Information, Microsoft.AspNetCore at
/// Warning), with an mTLS handler equivalent to ours. YARP then logs each request at Information
/// ("Proxying to …", "Received HTTP/1.1 response 200.").
/// </summary>
public static class YarpHost
{
    /// <summary>yarp-host PORT BACKEND-URL CLIENT-PFX ROOT-PEM</summary>
    public static async Task RunAsync(string[] args)
    {
        var (port, destination, pfx, rootPem) = (int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture), args[1], args[2], args[3]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' "; o.UseUtcTimestamp = true; });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var chain = X509CertificateLoader.LoadPkcs12CollectionFromFile(pfx, "bench");
        var leaf = chain.First(c => c.HasPrivateKey);
        var root = X509Certificate2.CreateFromPem(File.ReadAllText(rootPem));
        var intermediates = new X509Certificate2Collection(chain.Where(c => !c.HasPrivateKey).ToArray());
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
            ActivityHeadersPropagator = null, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = SslStreamCertificateContext.Create(leaf, intermediates, offline: true),
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) { return false; }
                    using var validation = new X509Chain();
                    validation.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    validation.ChainPolicy.CustomTrustStore.Add(root);
                    validation.ChainPolicy.ExtraStore.AddRange(intermediates);
                    validation.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return validation.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                },
                AllowTlsResume = false, // as ours: .NET servers see no client certificate on resumed sessions
            },
        });
        app.Map("/{**path}", async Task (HttpContext context, IHttpForwarder forwarder) =>
        {
            await forwarder.SendAsync(context, destination, invoker, ForwarderRequestConfig.Empty, HttpTransformer.Default);
        });
        await app.RunAsync();
    }
}
