using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Endpoints;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker;

/// <summary>
/// Cold start: what the first invocation would otherwise build on its own path is built in the background while
/// the host starts — the platform's root certificate store (read by the first TLS client context: about 0.1 s),
/// the endpoints' object graph, and each profile's transport as soon as its certificates have loaded.
/// Nothing is sent anywhere: no name is resolved and no connection opened before a request asks for one. Failures are ignored
/// here: the first request meets them again and reports them.
/// </summary>
/// <remarks>
/// StopAsync may be called more than once (a host stopped by a signal, then by its owner's dispose, as the demo does):
/// it only cancels; the container disposes the token source once, at the end.
/// </remarks>
internal sealed class WarmUp(IServiceProvider services, ProfileCatalog catalog, CertificateStore certificates, TransportPool transports,
    InvokerTelemetry telemetry) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(LoadRootStore, CancellationToken.None);
        _ = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>The platform's root store, read once into the runtime's cache: the first chain a TLS context builds needs it.</summary>
    private void LoadRootStore()
    {
        try
        {
            using var roots = new X509Store(StoreName.Root, StoreLocation.LocalMachine);
            roots.Open(OpenFlags.ReadOnly);
            _ = roots.Certificates.Count;
            telemetry.Startup.RootStoreLoaded();
        }
        catch (Exception e) when (e is CryptographicException or PlatformNotSupportedException)
        {
            // No store to read: the first TLS context finds the same and the request path reports what follows.
        }
    }

    private async Task RunAsync(CancellationToken token)
    {
        try
        {
            services.GetRequiredService<InvokerApi>();
            await Task.WhenAll(catalog.Profiles.Select(profile => WarmAsync(profile, token)));
            telemetry.Startup.TransportsWarmed();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nothing to do: the request path builds what is missing and reports any failure itself.
        }
    }

    private async Task WarmAsync(TlsProfile profile, CancellationToken token)
    {
        try
        {
            var material = await certificates.For(profile).GetAsync(token);
            transports.Acquire(profile, material).Dispose();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A certificate that does not load: the request path reports it.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        return Task.CompletedTask;
    }

    public void Dispose() => _stopping.Dispose();
}
