using Microsoft.Extensions.Hosting;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Validates the profiles at start-up (resolving the store builds the catalog, which throws on bad
/// configuration) and starts every certificate load in the background, so the first request does not
/// pay for it and start-up never waits on a certificate source.
/// </summary>
public sealed class CertificateWarmupService(CertificateStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var profile in store.All)
        {
            _ = profile.RefreshAsync(CancellationToken.None); // failures are logged and shown by health
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
