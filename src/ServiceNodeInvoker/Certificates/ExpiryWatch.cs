using System.Security.Cryptography.X509Certificates;
using Azure;
using Azure.Identity;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// The expiry watch: reads every certificate the app relies on — each profile's client certificate and the chain sent with it,
/// its trusted CAs, the caller CA, and a token source's client secret where Key Vault records an expiry — and reports the days
/// left of each as a metric and a log event (warning inside <c>ExpiryWarningDays</c>, error inside 7 days, expired as its own
/// event). A source that cannot be read is reported as failing, never as expired. The Functions app runs it on a timer (daily
/// and at start-up, so it runs at zero scale); the standalone host as a background service.
/// </summary>
public sealed class CertificateExpiryWatch
{
    private readonly ExpiryCheck _check;

    internal CertificateExpiryWatch(ExpiryCheck check) => _check = check;

    /// <summary>
    /// Checks every certificate once and reports each (metric <c>invoker.certificate.watch.days_left</c> and
    /// <c>invoker.certificate.watch.checks</c>, log events 1007–1012 and 1014), then flushes the telemetry so an instance stopped right
    /// after has still delivered it. Never throws for a certificate or source problem: those are what it reports.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken) => await _check.RunAsync(cancellationToken);
}

/// <summary>What the watch says of one certificate, worst last.</summary>
internal enum ExpiryStatus
{
    Ok,
    Warning,
    Error,
    Expired,

    /// <summary>Its source could not be read: nothing is known of its expiry from this run (the one held, if any, is reported on its own).</summary>
    Failing,
}

/// <summary>The roles a watched certificate plays, as the metric's <c>invoker.certificate.role</c> and the logs name them.</summary>
internal static class ExpiryRoles
{
    public const string Client = "client";
    public const string Chain = "chain";
    public const string TrustedCa = "trusted-ca";
    public const string CallerCa = "caller-ca";
    public const string ClientSecret = "client-secret";

    public static readonly IReadOnlyList<string> All = [Client, Chain, TrustedCa, CallerCa, ClientSecret];
}

/// <summary>One certificate (or failing source) in a watch run. Never secret material: names, thumbprints, dates.</summary>
/// <param name="Profile">The profile, or the owner's setting path (the caller CA).</param>
/// <param name="Thumbprint">SHA-256 in hex; for a client secret its version.</param>
/// <param name="Problem">Why the source failed (Failing), in the store's own words.</param>
internal sealed record ExpiryFinding(string Profile, string Role, string Subject, string Thumbprint, string Source,
    DateTimeOffset? NotAfter, ExpiryStatus Status, string? Problem = null)
{
    public static string StatusName(ExpiryStatus status) => status switch
    {
        ExpiryStatus.Ok => "ok",
        ExpiryStatus.Warning => "warning",
        ExpiryStatus.Error => "error",
        ExpiryStatus.Expired => "expired",
        _ => "failing",
    };
}

/// <summary>The check itself (see <see cref="CertificateExpiryWatch"/>).</summary>
internal sealed partial class ExpiryCheck(CertificateStore store, ProfileCatalog catalog, Func<KeyVaultClients> vaults, InvokerTelemetry telemetry,
    TelemetryFlush flush, TimeProvider time, ILogger<ExpiryCheck> logger)
{
    /// <summary>Inside this many days a certificate is an error, whatever ExpiryWarningDays says.</summary>
    public const int ErrorDays = 7;

    /// <summary>How long one run waits for the store's loads and the vault's answers before it reports what is still missing as failing.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Runs the check, reports every finding, and returns them (for the tests and the summary).</summary>
    public async Task<IReadOnlyList<ExpiryFinding>> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await CheckAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A defect here must not stop the host (a background service's exception would) nor hide as a timer failure.
            Log.Failed(logger, e.GetType().Name);
            return [];
        }
    }

    private async Task<IReadOnlyList<ExpiryFinding>> CheckAsync(CancellationToken cancellationToken)
    {
        // The patience runs on the host's clock, as every other wait of the app does.
        using var timeout = new CancellationTokenSource(Patience, time);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var findings = new List<ExpiryFinding>();
        var profiles = store.Profiles.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var cache in store.All.ToList())
        {
            var state = await FreshStateAsync(cache, patience.Token);
            var isProfile = profiles.Contains(cache.Name);
            findings.AddRange(ClientFindings(cache, state));
            findings.AddRange(TrustFindings(cache, state, isProfile ? ExpiryRoles.TrustedCa : ExpiryRoles.CallerCa));
        }
        foreach (var profile in catalog.Profiles)
        {
            if (profile.Token?.ClientSecret is { Source: SecretSourceKind.KeyVault } secret && await SecretFindingAsync(profile.Name, secret, patience.Token) is { } found)
            {
                findings.Add(found);
            }
        }
        // A run cut short by the host stopping has learnt nothing: what it could not read is not failing, and is not reported.
        cancellationToken.ThrowIfCancellationRequested();
        var daysLeft = new List<(System.Diagnostics.TagList, double)>();
        var (oneByOne, together) = Split(findings);
        foreach (var finding in findings.Where(oneByOne.Contains))
        {
            if (Report(finding) is { } reported)
            {
                daysLeft.Add(reported);
            }
        }
        foreach (var group in together)
        {
            if (ReportTogether(group) is { } reported)
            {
                daysLeft.Add(reported);
            }
        }
        telemetry.ReplaceExpiryDaysLeft(daysLeft);
        Log.Ran(logger, findings.Count(f => f.Status != ExpiryStatus.Failing), findings.Count(f => f.Status == ExpiryStatus.Warning), store.WarningDays,
            findings.Count(f => f.Status == ExpiryStatus.Error), ErrorDays, findings.Count(f => f.Status == ExpiryStatus.Expired),
            findings.Count(f => f.Status == ExpiryStatus.Failing));
        flush.Flush(FlushTimeout);
        return findings;
    }

    /// <summary>
    /// The cache's state, read at the cost the store already pays: a load in flight (at start-up) is joined, a state the refresh
    /// schedule keeps fresh is used as it is; only a state older than the schedule allows (or never loaded) costs a read now.
    /// </summary>
    private async Task<CertificateState> FreshStateAsync(CertificateCache cache, CancellationToken patience)
    {
        try
        {
            // Checked and joined (or started) under the cache's lock: reading the state first and asking for a load after
            // could start a second load, a second vault read, when the one in flight ended in between.
            await cache.EnsureFreshAsync(store.RefreshInterval * 1.2, patience);
        }
        catch (OperationCanceledException) when (patience.IsCancellationRequested)
        {
            // Reported below as not read within the watch's patience.
        }
        return cache.State;
    }

    private IEnumerable<ExpiryFinding> ClientFindings(CertificateCache cache, CertificateState state)
    {
        if (cache.ClientSource is not { } source)
        {
            yield break;
        }
        if (state.Client is { } client)
        {
            yield return Finding(cache.Name, ExpiryRoles.Client, client.Leaf, source.Description);
            foreach (var intermediate in client.Intermediates)
            {
                yield return Finding(cache.Name, ExpiryRoles.Chain, intermediate, source.Description);
            }
        }
        if (state.ClientError is { } error || (state.Client is null && (error = state.LastError ?? NotReadYet) is not null))
        {
            yield return new ExpiryFinding(cache.Name, ExpiryRoles.Client, "", "", source.Description, null, ExpiryStatus.Failing, error);
        }
    }

    private IEnumerable<ExpiryFinding> TrustFindings(CertificateCache cache, CertificateState state, string role)
    {
        if (cache.TrustedCaSource is not { } source)
        {
            yield break;
        }
        foreach (var ca in state.TrustedCa ?? [])
        {
            yield return Finding(cache.Name, role, ca, source.Description);
        }
        if (state.TrustedCaError is { } error || (state.TrustedCa is null && (error = state.LastError ?? NotReadYet) is not null))
        {
            yield return new ExpiryFinding(cache.Name, role, "", "", source.Description, null, ExpiryStatus.Failing, error);
        }
    }

    private static readonly string NotReadYet = $"not read within the watch's {Patience.TotalSeconds:0} s: the load goes on in the background";

    private ExpiryFinding Finding(string owner, string role, X509Certificate2 certificate, string source)
    {
        var notAfter = CertificateFacts.NotAfter(certificate);
        return new ExpiryFinding(owner, role, LogText.Quote(certificate.Subject), CertificateFacts.ThumbprintSha256(certificate), source, notAfter, StatusOf(notAfter));
    }

    /// <summary>
    /// Expired at NotAfter (as health and the store have it); an error with fewer than <see cref="ErrorDays"/> whole days left; a
    /// warning inside the warning window as health and the refresh's warning (1006) count it — whole days left, counted towards
    /// zero, at most ExpiryWarningDays — so one certificate is never "degraded" in health and "ok" here.
    /// </summary>
    public ExpiryStatus StatusOf(DateTimeOffset notAfter)
    {
        var now = time.GetUtcNow();
        var whole = CertificateWarnings.DaysLeft(notAfter, now);
        return notAfter <= now ? ExpiryStatus.Expired
            : whole < ErrorDays ? ExpiryStatus.Error
            : whole <= store.WarningDays ? ExpiryStatus.Warning
            : ExpiryStatus.Ok;
    }

    /// <summary>
    /// A Key Vault client secret's expiry, as the vault records it: one GET of the secret (the vault has no read of a current
    /// version's attributes alone), through the vault's gate; the value is dropped at once. No expiry recorded: nothing to watch.
    /// </summary>
    private async Task<ExpiryFinding?> SecretFindingAsync(string profile, SecretSourceOptions secret, CancellationToken patience)
    {
        var vault = secret.VaultUri!;
        var name = secret.Name!.Trim();
        var version = string.IsNullOrWhiteSpace(secret.Version) ? null : secret.Version.Trim();
        var where = $"Key Vault {vault.Host}, secret '{LogText.Quote(name)}'{(version is null ? "" : $" version {LogText.Quote(version)}")}";
        ExpiryFinding Failing(string problem) => new(profile, ExpiryRoles.ClientSecret, $"secret '{LogText.Quote(name)}'", "", where, null, ExpiryStatus.Failing, problem);
        IDisposable? slot = null;
        DependencyGate? gate = null;
        try
        {
            var clients = vaults();
            gate = clients.GateFor(vault);
            slot = await gate.EnterAsync(patience);
            var properties = (await clients.For(vault).GetSecretAsync(name, version, patience)).Value.Properties;
            gate.Answered();
            if (properties.ExpiresOn is not { } expires)
            {
                return null;
            }
            return new ExpiryFinding(profile, ExpiryRoles.ClientSecret, $"secret '{LogText.Quote(name)}'", LogText.Quote(properties.Version), where, expires, StatusOf(expires));
        }
        catch (RequestFailedException e)
        {
            // As the certificate reads do: a 429 pauses every read of this vault from this instance (its DependencyGate).
            if (e.Status == 429)
            {
                gate?.Throttled(KeyVaultCertificateSource.RetryAfter(e));
            }
            else
            {
                gate?.Answered();
            }
            return Failing(e.Status switch
            {
                403 => $"the app's identity may not read it (403 {LogText.Quote(e.ErrorCode)}): grant it the 'Key Vault Secrets User' role on the vault",
                404 => $"it does not exist (404 {LogText.Quote(e.ErrorCode)})",
                429 => "the vault is throttling (429)",
                0 => "the vault could not be reached",
                _ => $"the vault answered {e.Status} {LogText.Quote(e.ErrorCode)}",
            });
        }
        catch (OperationCanceledException) when (patience.IsCancellationRequested)
        {
            return Failing($"no answer within the watch's {Patience.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is CredentialUnavailableException or AuthenticationFailedException)
        {
            return Failing($"no token for Key Vault could be obtained ({e.GetType().Name})");
        }
        catch (Exception e) when (e is not OperationCanceledException || !patience.IsCancellationRequested)
        {
            // An answer the SDK cannot read (a gateway's page, a malformed attribute), or its own network timeout: this source
            // is failing; the other certificates of the run are still reported. The type only: a message may quote the body.
            return Failing($"the vault's answer could not be read ({e.GetType().Name})");
        }
        finally
        {
            slot?.Dispose();
        }
    }

    /// <summary>
    /// At most this many certificates of one profile (or the caller CA) are reported one by one in a run, the most urgent first;
    /// the rest are reported together, one series and one event per role and status. Each certificate reported one by one is a
    /// metric series of its own (subject, thumbprint): a source that holds thousands (a 1 MB PEM bundle) or presents new ones
    /// at every read would otherwise fill the SDK's series limit (2,000 per metric), and every other profile's series with it.
    /// </summary>
    public const int PerProfileLimit = 50;

    /// <summary>The subject of the series that stands for the certificates reported together.</summary>
    public const string Others = "(others)";

    /// <summary>
    /// The thumbprint of that series: one per status, so that a dashboard or alert keyed by subject and thumbprint keeps a
    /// warning group and an error group of the same role apart (one key for both kept whichever status came last).
    /// </summary>
    public static string OthersThumbprint(ExpiryStatus status) => $"(others: {ExpiryFinding.StatusName(status)})";

    /// <summary>
    /// Which findings are reported one by one (per profile: the <see cref="PerProfileLimit"/> most urgent — expired, error,
    /// warning, failing, then ok, each soonest first) and the rest, grouped by profile, role and status.
    /// </summary>
    internal static (HashSet<ExpiryFinding> OneByOne, List<IGrouping<(string Profile, string Role, ExpiryStatus Status), ExpiryFinding>> Together) Split(
        IReadOnlyList<ExpiryFinding> findings)
    {
        var oneByOne = new HashSet<ExpiryFinding>(ReferenceEqualityComparer.Instance);
        var rest = new List<ExpiryFinding>();
        foreach (var profile in findings.GroupBy(f => f.Profile, StringComparer.Ordinal))
        {
            var ordered = profile.OrderBy(f => Urgency(f.Status)).ThenBy(f => f.NotAfter ?? DateTimeOffset.MinValue).ToList();
            oneByOne.UnionWith(ordered.Take(PerProfileLimit));
            rest.AddRange(ordered.Skip(PerProfileLimit));
        }
        return (oneByOne, rest.GroupBy(f => (f.Profile, f.Role, f.Status)).ToList());
    }

    private static int Urgency(ExpiryStatus status) => status switch
    {
        ExpiryStatus.Expired => 0,
        ExpiryStatus.Error => 1,
        ExpiryStatus.Warning => 2,
        ExpiryStatus.Failing => 3,
        _ => 4,
    };

    /// <summary>Logs and counts the certificates of one profile, role and status beyond the per-profile limit, as one.</summary>
    private (System.Diagnostics.TagList Tags, double DaysLeft)? ReportTogether(IGrouping<(string Profile, string Role, ExpiryStatus Status), ExpiryFinding> group)
    {
        var (profile, role, status) = group.Key;
        var count = group.Count();
        var tags = InvokerTelemetry.ExpiryTags(profile, role, Others, OthersThumbprint(status), ExpiryFinding.StatusName(status));
        telemetry.RecordExpiryCheck(tags, count);
        var now = time.GetUtcNow();
        var level = status switch
        {
            ExpiryStatus.Expired or ExpiryStatus.Error => LogLevel.Error,
            ExpiryStatus.Warning or ExpiryStatus.Failing => LogLevel.Warning,
            _ => LogLevel.Information,
        };
        var soonest = group.Min(f => f.NotAfter);
        Log.ReportedTogether(logger, level, profile, role, count, ExpiryFinding.StatusName(status),
            soonest is { } end ? CertificateWarnings.DescribeDaysLeft(end, now) : "expiry unknown", PerProfileLimit);
        return soonest is { } last ? (tags, (last - now).TotalDays) : null;
    }

    /// <summary>The most characters of a failing source's reason in a log event (it may quote a certificate's subject).</summary>
    public const int ReasonLength = 1000;

    /// <summary>Logs and counts one finding; returns its tags and days left for the gauge (null for a failing source).</summary>
    private (System.Diagnostics.TagList Tags, double DaysLeft)? Report(ExpiryFinding finding)
    {
        // The reason and the source quote other parties (a certificate's subject in a refusal, a configured file name).
        var f = finding with { Source = LogText.Quote(finding.Source), Problem = LogText.Quote(finding.Problem ?? "unknown", ReasonLength) };
        var status = ExpiryFinding.StatusName(f.Status);
        var now = time.GetUtcNow();
        var tags = InvokerTelemetry.ExpiryTags(f.Profile, f.Role, f.Subject, f.Thumbprint, status);
        telemetry.RecordExpiryCheck(tags);
        if (f.NotAfter is not { } end)
        {
            Log.SourceFailing(logger, f.Profile, f.Role, f.Source, f.Problem!);
            return null;
        }
        var whole = CertificateWarnings.DaysLeft(end, now);
        var words = CertificateWarnings.DescribeDaysLeft(end, now);
        switch (f.Status)
        {
            case ExpiryStatus.Ok:
                Log.Valid(logger, f.Profile, f.Role, f.Subject, f.Thumbprint, whole, words, end.UtcDateTime, f.Source);
                break;
            case ExpiryStatus.Warning:
                Log.Expiring(logger, f.Profile, f.Role, f.Subject, f.Thumbprint, whole, words, end.UtcDateTime, f.Source, store.WarningDays);
                break;
            case ExpiryStatus.Error:
                Log.ExpiringSoon(logger, f.Profile, f.Role, f.Subject, f.Thumbprint, whole, words, end.UtcDateTime, f.Source, ErrorDays);
                break;
            default:
                Log.Expired(logger, f.Profile, f.Role, f.Subject, f.Thumbprint, whole, words, end.UtcDateTime, f.Source);
                break;
        }
        return (tags, (end - now).TotalDays);
    }

    private static partial class Log
    {
        [LoggerMessage(1007, LogLevel.Information,
            "Expiry watch: {Profile} {Role} {Subject} (SHA-256 {Thumbprint}) {Expiry}, on {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'} ({DaysLeft} days; from {Source}).")]
        public static partial void Valid(ILogger logger, string profile, string role, string subject, string thumbprint, int daysLeft, string expiry,
            DateTime notAfter, string source);

        [LoggerMessage(1008, LogLevel.Warning,
            "Expiry watch: {Profile} {Role} {Subject} (SHA-256 {Thumbprint}) {Expiry}, on {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'} ({DaysLeft} days, inside {WarningDays}; from {Source}): renew it.")]
        public static partial void Expiring(ILogger logger, string profile, string role, string subject, string thumbprint, int daysLeft, string expiry,
            DateTime notAfter, string source, int warningDays);

        [LoggerMessage(1009, LogLevel.Error,
            "Expiry watch: {Profile} {Role} {Subject} (SHA-256 {Thumbprint}) {Expiry}, on {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'} ({DaysLeft} days, inside {ErrorDays}; from {Source}): renew it now.")]
        public static partial void ExpiringSoon(ILogger logger, string profile, string role, string subject, string thumbprint, int daysLeft, string expiry,
            DateTime notAfter, string source, int errorDays);

        [LoggerMessage(1010, LogLevel.Error,
            "Expiry watch: {Profile} {Role} {Subject} (SHA-256 {Thumbprint}) {Expiry}, on {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'} ({DaysLeft} days; from {Source}): calls that need it fail until it is replaced.")]
        public static partial void Expired(ILogger logger, string profile, string role, string subject, string thumbprint, int daysLeft, string expiry,
            DateTime notAfter, string source);

        [LoggerMessage(1011, LogLevel.Warning,
            "Expiry watch: {Profile} {Role} could not be read from {Source}: {Reason}. Its expiry is unknown from this run (not expired).")]
        public static partial void SourceFailing(ILogger logger, string profile, string role, string source, string reason);

        [LoggerMessage(1012, LogLevel.Information,
            "Expiry watch ran: {Checked} certificate(s) checked, {Warnings} inside {WarningDays} days, {Errors} inside {ErrorDays} days, {Expired} expired, {Failing} source(s) failing.")]
        public static partial void Ran(ILogger logger, int @checked, int warnings, int warningDays, int errors, int errorDays, int expired, int failing);

        [LoggerMessage(EventId = 1014, Message =
            "Expiry watch: {Profile} {Role}: {Count} more certificate(s) {Status}, the soonest {Expiry}, reported together (at most {Limit} per profile and run are reported one by one, the most urgent first).")]
        public static partial void ReportedTogether(ILogger logger, LogLevel level, string profile, string role, int count, string status, string expiry, int limit);

        [LoggerMessage(1013, LogLevel.Error, "Expiry watch failed unexpectedly ({Type}): this run reported nothing; the next one tries again.")]
        public static partial void Failed(ILogger logger, string type);
    }
}

/// <summary>The standalone host's expiry watch: once at start-up, then a day after each run ended (no burst of runs after a pause).</summary>
internal sealed class ExpiryWatchService(ExpiryCheck check, TimeProvider time) : Microsoft.Extensions.Hosting.BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await check.RunAsync(stoppingToken);
                await Task.Delay(Period, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // the host is stopping
        }
    }
}
