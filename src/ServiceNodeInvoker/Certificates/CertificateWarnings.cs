using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// Warns, at most once a day per certificate, when a client certificate is inside the expiry warning
/// window. Checked on every (hourly) refresh; the days-to-expiry metric is the thing to alert on.
/// </summary>
public sealed partial class CertificateWarnings(int warningDays, TimeProvider time, ILogger<CertificateWarnings> logger)
{
    private static readonly TimeSpan Spacing = TimeSpan.FromDays(1);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastWarned = new();

    public void CheckExpiry(string profile, ClientCertificate certificate)
    {
        var now = time.GetUtcNow();
        var daysLeft = (certificate.NotAfter - now).TotalDays;
        if (daysLeft > warningDays)
        {
            return;
        }
        var key = $"{profile}/{certificate.ThumbprintSha256}";
        if (_lastWarned.TryGetValue(key, out var last) && now - last < Spacing)
        {
            return;
        }
        _lastWarned[key] = now;
        Log.Expiring(logger, profile, certificate.Subject, certificate.ThumbprintSha256, Math.Floor(daysLeft), certificate.NotAfter);
    }

    private static partial class Log
    {
        [LoggerMessage(1004, LogLevel.Warning,
            "Profile {Profile}: client certificate {Subject} (SHA-256 {Thumbprint}) expires in {DaysLeft} days, on {NotAfter:u}: rotate it.")]
        public static partial void Expiring(ILogger logger, string profile, string subject, string thumbprint, double daysLeft, DateTimeOffset notAfter);
    }
}
