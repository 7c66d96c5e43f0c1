namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// When to refresh a profile's certificates. The default interval is 1 hour: a rotated certificate
/// reaches every instance within about an hour (API Management takes up to 4 h), and even 1,000
/// instances × 50 profiles make about 14 secret GETs a second, a few percent of Key Vault's 4,000 per
/// 10 s. Jitter keeps instances that started together from refreshing together.
/// </summary>
internal sealed class RefreshPolicy(TimeSpan interval)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan MaximumInterval = TimeSpan.FromHours(24);

    /// <summary>First retry after a failed refresh; doubles per failure, up to the interval.</summary>
    public static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(30);

    /// <summary>A backend refusing our certificate triggers a refresh at most this often per profile.</summary>
    public static readonly TimeSpan EarlyRefreshSpacing = TimeSpan.FromMinutes(5);

    public TimeSpan Interval => interval;

    public TimeSpan AfterSuccess() => interval * (0.9 + Random.Shared.NextDouble() * 0.2);

    public TimeSpan AfterFailure(int consecutiveFailures, TimeSpan? retryAfter)
    {
        var backoff = FirstRetry * Math.Pow(2, Math.Min(consecutiveFailures - 1, 16));
        var delay = backoff < interval ? backoff : interval;
        return retryAfter is { } wait && wait > delay ? wait : delay;
    }
}
