using System.Collections.Concurrent;
using ServiceNodeInvoker.Primitives;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Warns, at most once a day per certificate, when a client certificate is inside the expiry warning
/// window. Checked on every (hourly) refresh; the days-to-expiry metric is the thing to alert on.
/// </summary>
internal partial class CertificateWarnings(int warningDays, TimeProvider time, ILogger<CertificateWarnings> logger)
{
    private static readonly TimeSpan Spacing = TimeSpan.FromDays(1);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastWarned = new();

    /// <param name="renewal">Key Vault's renewal policy in words, when the certificate comes from a vault.</param>
    public void CheckExpiry(string profile, ClientCertificate certificate, string? renewal = null)
    {
        var now = time.GetUtcNow();
        if (DaysLeft(certificate.NotAfter, now) > warningDays)
        {
            return;
        }
        var key = $"{profile}/{certificate.ThumbprintSha256}";
        if (_lastWarned.TryGetValue(key, out var last) && now - last < Spacing)
        {
            return;
        }
        _lastWarned[key] = now;
        var action = renewal is not null && renewal.StartsWith("auto-renews", StringComparison.Ordinal)
            ? $"the vault {renewal.Replace("auto-renews", "renews it", StringComparison.Ordinal)}: check that the new version arrives"
            : renewal is null ? "rotate it" : $"rotate it: the vault will not ({renewal})";
        Log.Expiring(logger, profile, LogText.Quote(certificate.Subject), certificate.ThumbprintSha256,
            DescribeDaysLeft(certificate.NotAfter, now), certificate.NotAfter.UtcDateTime, action);
    }

    /// <summary>Whether this certificate is inside the warning window (a warning is due, or was given today).</summary>
    public bool InWindow(ClientCertificate certificate) => DaysLeft(certificate.NotAfter, time.GetUtcNow()) <= warningDays;

    /// <summary>Whole days until <paramref name="notAfter"/>, counted towards zero: 0 on its last day, -1 a day after it.</summary>
    public static int DaysLeft(DateTimeOffset notAfter, DateTimeOffset now) => (int)Math.Truncate((notAfter - now).TotalDays);

    /// <summary>"expires in 11 days", "expires within a day", "expired 1 day ago": the one wording for logs, health and errors.</summary>
    public static string DescribeDaysLeft(DateTimeOffset notAfter, DateTimeOffset now)
    {
        var days = DaysLeft(notAfter, now);
        return notAfter > now
            ? days == 0 ? "expires within a day" : $"expires in {days} day{(days == 1 ? "" : "s")}"
            : days == 0 ? "expired less than a day ago" : $"expired {-days} day{(days == -1 ? "" : "s")} ago";
    }

    private static partial class Log
    {
        [LoggerMessage(1006, LogLevel.Warning,
            "Profile {Profile}: client certificate {Subject} (SHA-256 {Thumbprint}) {DaysLeft}, on {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'}: {Action}.")]
        public static partial void Expiring(ILogger logger, string profile, string subject, string thumbprint, string daysLeft, DateTime notAfter, string action);
    }
}
