using Microsoft.Azure.Functions.Worker;
using ServiceNodeInvoker.Certificates;

namespace ServiceNodeInvoker.Functions;

/// <summary>
/// The certificate expiry watch on a timer: every day at 06:00 UTC and once when the host starts (RunOnStartup), so it runs
/// while the app is scaled to zero — the timer wakes an instance. A timer needs AzureWebJobsStorage for its schedule lock:
/// locally Azurite (local.settings.sample.json, docs/operations.md).
/// </summary>
public sealed class ExpiryWatchFunction(CertificateExpiryWatch watch)
{
    /// <summary>The schedule (NCRONTAB with seconds, UTC): daily at 06:00.</summary>
    public const string Schedule = "0 0 6 * * *";

    [Function("ExpiryWatch")]
    public Task Run([TimerTrigger(Schedule, RunOnStartup = true)] TimerInfo timer, CancellationToken cancellationToken) =>
        watch.RunAsync(cancellationToken);
}
