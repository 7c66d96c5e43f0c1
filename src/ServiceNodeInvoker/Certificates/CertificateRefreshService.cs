using Microsoft.Extensions.Hosting;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Validates the profiles at start-up (resolving the store builds the catalog, which throws on bad
/// configuration) and starts every profile's refresh schedule, whose first load runs in the
/// background: the first request does not pay for it and start-up never waits on Key Vault.
/// </summary>
internal sealed class CertificateRefreshService(CertificateStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        store.Start(); // failures are logged and shown by health; profiles a configuration change adds start as they come
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        store.Dispose();
        return Task.CompletedTask;
    }
}
