using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Configuration;

/// <summary>The configuration serving now: its number (1 at start-up), when and why it was loaded, and its Invoker settings as read then.</summary>
/// <param name="Settings">The configuration as it was read for this version (the admin view's defaults are judged on it).</param>
internal sealed record LiveVersion(int Version, DateTimeOffset LoadedAt, string Trigger, IConfiguration Settings);

/// <summary>What one reload did.</summary>
/// <param name="Result"><see cref="LiveConfiguration.Applied"/>, <see cref="LiveConfiguration.Refused"/> or <see cref="LiveConfiguration.Unchanged"/>.</param>
/// <param name="Problems">Why it was refused: every problem, each naming its setting (or file).</param>
/// <param name="NeedsRestart">Settings whose value differs from start-up's and that only a restart applies.</param>
/// <param name="Warnings">What applied but does not work yet: a new or changed profile whose certificates did not load in time.</param>
/// <param name="Live">The configuration serving after this reload.</param>
internal sealed record ReloadReport(
    string Result, DateTimeOffset At, string Trigger, IReadOnlyList<string> Problems,
    IReadOnlyList<string> Added, IReadOnlyList<string> Changed, IReadOnlyList<string> Removed, bool CallersChanged,
    IReadOnlyList<string> NeedsRestart, IReadOnlyList<string> Warnings, LiveVersion Live);

/// <summary>
/// Follows the configuration while the host runs. When a source changes (a settings file saved: ASP.NET Core watches
/// them) or an admin asks (<see cref="ReloadAsync()"/>), the whole configuration is checked the way start-up checks it
/// (<see cref="ConfigurationCheck.Read"/>): a configuration start-up would refuse is refused as a whole, every problem
/// logged and kept for the admin view, and the last good one keeps serving. A good one is applied in the order
/// configuration flows — certificate and token caches for the profiles it brings (their certificates loaded as at
/// start-up, waited for a little so calls do not wait for them; meanwhile only callers both configurations accept are,
/// so a revoked key does not wait), then the catalog, then the callers, then the caches and connections of the
/// profiles it took away are retired. Requests resolve their profile once, so those in flight
/// finish on what they started with; a profile whose settings did not change keeps its instance and so its
/// certificates, tokens and connections. Settings that only a restart applies (listeners, telemetry, the credential,
/// limits, the caller mode…) are named in the log instead of being ignored without a word.
/// </summary>
internal sealed partial class LiveConfiguration : IHostedService, IDisposable
{
    public const string Applied = "applied";
    public const string Refused = "refused";
    public const string Unchanged = "unchanged";

    /// <summary>Why a configuration was read: at start-up, after a file change, or on an admin's request.</summary>
    public const string StartUp = "start-up";
    public const string FileChange = "file-change";
    public const string Request = "request";

    /// <summary>How long a reload waits for the certificates of the profiles it brings before they go live anyway.</summary>
    public static readonly TimeSpan CertificateWait = TimeSpan.FromSeconds(10);

    /// <summary>The Invoker:Callers settings that change live (<see cref="LiveCallerOptions"/>); the others need a restart.</summary>
    private static readonly string[] LiveCallerSettings =
    [
        nameof(CallerOptions.ApiKeys), nameof(CallerOptions.AdminKeys), nameof(CallerOptions.Certificates), nameof(CallerOptions.Grants),
        nameof(CallerOptions.TrustForwardedCertificate), nameof(CallerOptions.BehindCertificateForwardingFrontEnd),
    ];

    /// <summary>Settings outside Invoker that the invoker reads once, at start-up: the listeners, telemetry export, the Azure credential.</summary>
    private static readonly string[] RestartOnlyOutside =
    [
        "Urls", "Kestrel", "APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_EXPORTER_OTLP_ENDPOINT", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT", "MSI_ENDPOINT",
    ];

    private readonly IConfiguration _configuration;
    private readonly SettingsFiles _files;
    private readonly InvokerHostKind _host;
    private readonly ProfileCatalog _catalog;
    private readonly CertificateStore _certificates;
    private readonly TokenStore _tokens;
    private readonly TransportPool _transports;
    private readonly LiveCallerOptions _callers;
    private readonly InvokerTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly Lock _narrowing = new();
    private bool _waiting; // a change is between being read and going live (under _narrowing)
    private readonly List<PendingCallers> _later = []; // configurations read while it waited (under _narrowing)
    private bool _missed; // a change was read while the reload holding _serial had not reached its wait yet (under _narrowing)
    private bool _missedReread; // … on a request, which reads the sources again (under _narrowing)
    private bool _narrowed; // the callers in force are narrower than _callerSettings (a later change still to apply): the next reload restores them
    private readonly AsyncLocal<bool> _rereading = new();
    private readonly Dictionary<string, string> _restartOnlyAtStart;
    private IReadOnlySet<string> _filesAtLastGood;
    private Dictionary<string, string> _lastRead;
    private IReadOnlyList<string> _needsRestart = [];
    private string _callerSettings;
    private CallerOptions _appliedCallers; // the caller settings of the configuration in force, not narrowed (under _serial)
    private volatile LiveVersion _live;
    private volatile ReloadReport? _last;
    private readonly LiveVersion _start;
    private int _queued;
    private IDisposable? _watch;

    public LiveConfiguration(IConfiguration configuration, SettingsFiles files, InvokerOptions started, InvokerHostInfo host, ProfileCatalog catalog,
        CertificateStore certificates, TokenStore tokens, TransportPool transports, LiveCallerOptions callers, InvokerTelemetry telemetry,
        TimeProvider time, ILogger<LiveConfiguration> logger)
    {
        _configuration = configuration;
        _files = files;
        _host = host.Kind;
        _catalog = catalog;
        _certificates = certificates;
        _tokens = tokens;
        _transports = transports;
        _callers = callers;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _lastRead = Flatten(configuration);
        _restartOnlyAtStart = RestartOnly(_lastRead);
        _filesAtLastGood = files.Present();
        _callerSettings = LiveCallerText(started.Callers);
        _appliedCallers = started.Callers;
        _live = _start = new LiveVersion(1, time.GetUtcNow(), StartUp, Snapshot(_lastRead));
    }

    /// <summary>The configuration serving now.</summary>
    public LiveVersion Live => _live;

    /// <summary>The configuration the host started with: what the settings only a restart changes still come from.</summary>
    public LiveVersion Start => _start;

    /// <summary>The last reload that read something new, or null when none has yet.</summary>
    public ReloadReport? Last => _last;

    /// <summary>Whether a settings file is watched (its changes are applied as it is saved), else changes wait for a reload request.</summary>
    public bool Watched => _files.Watched;

    /// <summary>Settings changed since start-up that only a restart applies, as of the last reload.</summary>
    public IReadOnlyList<string> NeedsRestart => Volatile.Read(ref _needsRestart);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _files.LoadFailed += OnSourceChanged;
        _watch = ChangeToken.OnChange(_configuration.GetReloadToken, OnSourceChanged);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _files.LoadFailed -= OnSourceChanged;
        _watch?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _watch?.Dispose(); // the semaphore has no wait handle to free: a reload still queued at shutdown finds it usable

    /// <summary>A source changed (or a file failed to load): one reload is queued; changes made while it waits join it.</summary>
    private void OnSourceChanged()
    {
        if (_rereading.Value)
        {
            return; // a reload on request reads the sources itself
        }
        if (Interlocked.Exchange(ref _queued, 1) == 1)
        {
            // One is already waiting to read them; while a change ahead of it waits for certificates, a revocation in what
            // was just saved counts now all the same.
            _ = Task.Run(() => NarrowWhileWaiting(reread: false));
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await ReloadAsync(FileChange, reread: false, skipIdentical: true);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.ReloadFailed(_logger, e.GetType().Name, LogText.Escape(e.Message));
            }
        });
    }

    /// <summary>Reads the sources again now and applies what changed (an admin's request): the report of this reload.</summary>
    public Task<ReloadReport> ReloadAsync() => ReloadAsync(Request, reread: true, skipIdentical: false)!;

    private async Task<ReloadReport?> ReloadAsync(string trigger, bool reread, bool skipIdentical)
    {
        if (!_serial.Wait(0))
        {
            // A change ahead of this one is waiting for its profiles' certificates: what this one revokes counts now.
            NarrowWhileWaiting(reread);
            await _serial.WaitAsync();
        }
        try
        {
            lock (_narrowing)
            {
                _missed = _missedReread = false; // what was read before now, this reload reads itself
            }
            Interlocked.Exchange(ref _queued, 0); // a change from here on queues another reload
            if (reread)
            {
                Reread();
            }
            var read = Flatten(_configuration);
            if (skipIdentical && Same(read, _lastRead) && !_narrowed)
            {
                return null; // a second notice of a change already read: nothing new to report
            }
            _lastRead = read;
            ReloadReport report;
            try
            {
                report = await ApplyAsync(trigger, read);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Nothing was published (ApplyAsync undoes what it built): the configuration in force serves on, and the
                // admin who asked gets the reason rather than a 500.
                Log.ReloadFailed(_logger, e.GetType().Name, LogText.Escape(e.Message));
                report = new ReloadReport(Refused, _time.GetUtcNow(), trigger, [$"the reload failed unexpectedly ({e.GetType().Name}); the configuration in force keeps serving"],
                    [], [], [], false, NeedsRestart, [], _live);
            }
            _last = report;
            _telemetry.RecordReload(report.Result, trigger);
            return report;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Every source loads again; a file that fails is named by the check that follows.</summary>
    private void Reread()
    {
        if (_configuration is not IConfigurationRoot root)
        {
            return;
        }
        _rereading.Value = true;
        try
        {
            root.Reload();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A settings file that does not read (SettingsFiles.Problems names it), or something else listening for changes
            // that failed on what it read: the check that follows judges the configuration itself.
        }
        finally
        {
            _rereading.Value = false;
        }
    }

    private async Task<ReloadReport> ApplyAsync(string trigger, Dictionary<string, string> read)
    {
        var now = _time.GetUtcNow();
        var problems = _files.Problems(_filesAtLastGood);
        InvokerOptions? options = null;
        if (problems.Count == 0)
        {
            problems.AddRange(ConfigurationCheck.Read(_configuration, _host, out options));
        }
        var live = _live;
        if (problems.Count > 0 || options is null)
        {
            if (_narrowed)
            {
                // Narrowed by a configuration read while another waited (this reload's, or one it replaces): refused, it
                // narrows nothing, as one refused on being read does not. The configuration in force serves as it says.
                Settle(_appliedCallers, []);
            }
            Log.Refused(_logger, Describe(trigger), problems.Count, live.Version, live.LoadedAt.UtcDateTime,
                string.Join(" | ", problems.Select(LogText.Escape)));
            return new ReloadReport(Refused, now, trigger, problems, [], [], [], false, NeedsRestart, [], live);
        }
        _filesAtLastGood = _files.Present();

        // Settings only a restart applies are named, not applied: they keep start-up's values.
        var needsRestart = ChangedSince(_restartOnlyAtStart, RestartOnly(read));
        var newlyNeedingRestart = needsRestart.Except(NeedsRestart, StringComparer.OrdinalIgnoreCase).ToList();
        Volatile.Write(ref _needsRestart, needsRestart);
        if (newlyNeedingRestart.Count > 0)
        {
            Log.NeedsRestart(_logger, string.Join(", ", newlyNeedingRestart));
        }

        var change = _catalog.Prepare(options.Profiles);
        var callerSettings = LiveCallerText(options.Callers);
        var callersChanged = callerSettings != _callerSettings;
        if (change.IsEmpty && !callersChanged)
        {
            if (_narrowed)
            {
                Settle(options.Callers, []); // a change read while another waited was itself undone: its narrowing goes
            }
            Log.Unchanged(_logger, Describe(trigger), live.Version, live.LoadedAt.UtcDateTime);
            return new ReloadReport(Unchanged, now, trigger, [], [], [], [], false, needsRestart, [], live);
        }

        // Profiles → Certificates → Tokens: the caches of the profiles it brings exist (and load) before any request can resolve them.
        var arriving = change.Arriving.ToList();
        List<string> warnings;
        var callersBefore = _callers.State;
        lock (_narrowing)
        {
            // While the certificates of the profiles it brings load (up to CertificateWait), only the callers and the
            // caller→profile uses that both the configuration in force and this one accept are: a revoked key, admin key,
            // caller certificate or grant (or a profile's AllowedCallers entry, or a profile removed) counts at once,
            // nothing is added until it applies. A change read meanwhile narrows further (NarrowWhileWaiting).
            _waiting = true;
            _later.Clear();
            _callers.Narrow(PendingCallers.Of(options.Callers, options.Profiles));
            if (_missed)
            {
                // A change read after this one was, but before its wait began (NarrowWhileWaiting found no wait): it counts now.
                var reread = _missedReread;
                _missed = _missedReread = false;
                NarrowLocked(reread);
            }
        }
        try
        {
            _certificates.Add(arriving);
            _tokens.Add(arriving);
            warnings = await WaitForCertificatesAsync(arriving);
            _catalog.Publish(change);
        }
        catch
        {
            // Nothing was published: what was built for the change goes, and the configuration in force stays as it was
            // (its callers again, not the narrowed set; narrowed only by changes read since, which the next reload applies).
            Settle(callersBefore.Current, callersBefore.Pending);
            _transports.Retire(arriving);
            _tokens.Retire(arriving);
            _certificates.Retire(arriving);
            throw;
        }
        Settle(options.Callers, []);
        _appliedCallers = options.Callers;
        _callerSettings = callerSettings;
        var leaving = change.Leaving.ToList();
        _transports.Retire(leaving);
        _tokens.Retire(leaving);
        _certificates.Retire(leaving);

        live = new LiveVersion(live.Version + 1, _time.GetUtcNow(), trigger, Snapshot(read));
        _live = live;
        var report = new ReloadReport(Applied, now, trigger, [],
            change.Added.Select(p => p.Name).ToList(), change.Changed.Select(c => c.New.Name).ToList(), change.Removed.Select(p => p.Name).ToList(),
            callersChanged, needsRestart, warnings, live);
        Log.Applied(_logger, live.Version, Describe(trigger), Names(report.Added), Names(report.Changed), Names(report.Removed),
            callersChanged ? "changed" : "unchanged");
        foreach (var warning in warnings)
        {
            Log.CertificatesNotReady(_logger, LogText.Escape(warning));
        }
        return report;
    }

    /// <summary>
    /// A change is waiting for its profiles' certificates and another was read meanwhile: if the configuration now read
    /// passes the check, only what it accepts too stays in force (<see cref="LiveCallerOptions.Narrow"/>) until its own
    /// reload, queued behind, applies it. A configuration that fails the check narrows nothing (its reload refuses it).
    /// </summary>
    private void NarrowWhileWaiting(bool reread)
    {
        lock (_narrowing)
        {
            if (!_waiting)
            {
                // No change waits yet; one may be read already and on its way to its wait (the reload holding _serial): it
                // narrows by this one as its wait begins.
                _missed = true;
                _missedReread |= reread;
                return;
            }
            NarrowLocked(reread);
        }
    }

    /// <summary><see cref="NarrowWhileWaiting"/>'s work, under <c>_narrowing</c> with a change waiting.</summary>
    private void NarrowLocked(bool reread)
    {
        try
        {
            if (reread)
            {
                Reread();
            }
            if (_files.Problems(_filesAtLastGood).Count > 0 || ConfigurationCheck.Read(_configuration, _host, out var options).Count > 0 || options is null)
            {
                return;
            }
            var pending = PendingCallers.Of(options.Callers, options.Profiles);
            _later.Add(pending);
            _callers.Narrow(pending);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.ReloadFailed(_logger, e.GetType().Name, LogText.Escape(e.Message)); // the queued reload reads and judges it again
        }
    }

    /// <summary>
    /// The wait is over: <paramref name="callers"/> go in force (with <paramref name="pending"/>'s narrowing kept), narrowed
    /// still by the configurations read meanwhile, which the reloads queued behind this one apply.
    /// </summary>
    private void Settle(CallerOptions callers, IReadOnlyList<PendingCallers> pending)
    {
        lock (_narrowing)
        {
            _waiting = false;
            var later = pending.Concat(_later).ToList();
            _later.Clear();
            _callers.Replace(callers, later);
            _narrowed = later.Count > 0;
        }
    }

    /// <summary>
    /// The certificates of the profiles a change brings, loaded as at start-up and waited for up to <see cref="CertificateWait"/>,
    /// so the change goes live with them in place. One that fails or is slower goes live anyway (as at start-up: calls wait
    /// for it or fail with certificate-unavailable, health says why); it is named in the report.
    /// </summary>
    private async Task<List<string>> WaitForCertificatesAsync(List<TlsProfile> arriving)
    {
        var loads = arriving.Select(async profile =>
        {
            try
            {
                await _certificates.For(profile).GetAsync(CertificateWait, CancellationToken.None);
                return null;
            }
            catch (InvokerException e)
            {
                // The load's own failure where there is one; the call's reply wording ("this invocation's timeout") is not
                // this wait's: no invocation is involved.
                return e.InnerException is CertificateLoadException failure
                    ? $"profile '{profile.Name}': {failure.Message}"
                    : e.Cause == FailureCauses.CertificateLoadFailed && e.RetryAfterSeconds is not null // no answer yet
                        ? $"profile '{profile.Name}': not loaded within the change's {CertificateWait.TotalSeconds:0} s wait; the load goes on in the background"
                        : $"profile '{profile.Name}': {e.Message}";
            }
        });
        return (await Task.WhenAll(loads)).OfType<string>().ToList();
    }

    private static string Describe(string trigger) => trigger switch
    {
        FileChange => "a settings file changed",
        Request => "reload requested",
        _ => trigger,
    };

    private static string Names(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names.Select(LogText.Escape));

    /// <summary>The live part of the caller settings, as text: equal text, unchanged callers.</summary>
    private static string LiveCallerText(CallerOptions callers) => System.Text.Json.JsonSerializer.Serialize(new
    {
        callers.ApiKeys, callers.AdminKeys, callers.Certificates, callers.Grants, callers.TrustForwardedCertificate, callers.BehindCertificateForwardingFrontEnd,
    });

    /// <summary>Every setting with a value, by path (case-insensitive, as configuration is).</summary>
    private static Dictionary<string, string> Flatten(IConfiguration configuration) =>
        configuration.AsEnumerable().Where(kv => kv.Value is not null)
            .GroupBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First().Value!, StringComparer.OrdinalIgnoreCase);

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var value) && value == kv.Value);

    /// <summary>The Invoker settings as read (and the platform variable a setting falls back to): what the admin view judges defaults on.</summary>
    private static IConfiguration Snapshot(Dictionary<string, string> read) =>
        new ConfigurationBuilder().AddInMemoryCollection(read
            .Where(kv => kv.Key.StartsWith(InvokerOptions.SectionName + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase)
                || kv.Key.Equals("AZURE_CLIENT_ID", StringComparison.OrdinalIgnoreCase))
            .Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value))).Build();

    /// <summary>The settings only a restart applies, by path; each keyed under the name it is reported by.</summary>
    private static Dictionary<string, string> RestartOnly(Dictionary<string, string> read)
    {
        var restartOnly = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in read)
        {
            if (RestartSetting(key) is { } setting)
            {
                restartOnly[$"{setting}\n{key}"] = value;
            }
        }
        return restartOnly;
    }

    /// <summary>The name a restart-only setting is reported by (never its value: it may be a secret), or null for a live one or one not the invoker's.</summary>
    internal static string? RestartSetting(string key)
    {
        var parts = key.Split(ConfigurationPath.KeyDelimiter);
        if (parts[0].Equals(InvokerOptions.SectionName, StringComparison.OrdinalIgnoreCase))
        {
            if (parts.Length < 2 || parts[1].Equals(nameof(InvokerOptions.Profiles), StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
            if (parts[1].Equals(nameof(InvokerOptions.Callers), StringComparison.OrdinalIgnoreCase))
            {
                return parts.Length < 3 || LiveCallerSettings.Contains(parts[2], StringComparer.OrdinalIgnoreCase) ? null
                    : $"{InvokerOptions.SectionName}:{nameof(InvokerOptions.Callers)}:{Named(typeof(CallerOptions), parts[2])}";
            }
            return $"{InvokerOptions.SectionName}:{Named(typeof(InvokerOptions), parts[1])}";
        }
        return RestartOnlyOutside.FirstOrDefault(r => r.Equals(parts[0], StringComparison.OrdinalIgnoreCase)) is { } outside
            ? parts.Length > 2 ? $"{outside}:{parts[1]}" : outside
            : null;
    }

    /// <summary>A setting's name as the options model spells it (configuration keys are case-insensitive).</summary>
    private static string Named(Type options, string key) =>
        options.GetProperty(key, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.Name ?? key;

    /// <summary>The names of the settings whose values differ between the two readings.</summary>
    private static List<string> ChangedSince(Dictionary<string, string> before, Dictionary<string, string> now) =>
        before.Keys.Union(now.Keys, StringComparer.OrdinalIgnoreCase)
            .Where(k => !before.TryGetValue(k, out var a) || !now.TryGetValue(k, out var b) || a != b)
            .Select(k => k[..k.IndexOf('\n')]).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToList();

    private static partial class Log
    {
        [LoggerMessage(6001, LogLevel.Information, "Configuration {Version} applied ({Trigger}): profiles added: {Added}; changed: {Changed}; removed: {Removed}; " +
            "callers {Callers}. New requests use it; requests in flight finish on the configuration they started with.")]
        public static partial void Applied(ILogger logger, int version, string trigger, string added, string changed, string removed, string callers);

        [LoggerMessage(6002, LogLevel.Warning, "Configuration change refused ({Trigger}): {Count} problem(s); configuration {Version}, loaded at " +
            "{LoadedAt:yyyy-MM-dd'T'HH:mm:ss'Z'}, keeps serving. Fix and save again: {Problems}")]
        public static partial void Refused(ILogger logger, string trigger, int count, int version, DateTime loadedAt, string problems);

        [LoggerMessage(6003, LogLevel.Warning, "Settings changed that only a restart applies: {Settings}. They keep their start-up values until the host restarts.")]
        public static partial void NeedsRestart(ILogger logger, string settings);

        [LoggerMessage(6004, LogLevel.Information, "Configuration re-read ({Trigger}): no change to profiles or callers; configuration {Version}, loaded at " +
            "{LoadedAt:yyyy-MM-dd'T'HH:mm:ss'Z'}, keeps serving.")]
        public static partial void Unchanged(ILogger logger, string trigger, int version, DateTime loadedAt);

        [LoggerMessage(6005, LogLevel.Warning, "A profile the configuration change brought is live without its certificates ready: {Reason} " +
            "Calls to it wait for them or fail with certificate-unavailable, as at start-up; health shows why.")]
        public static partial void CertificatesNotReady(ILogger logger, string reason);

        [LoggerMessage(6006, LogLevel.Error, "A configuration reload failed unexpectedly ({Type}): {Reason}. The configuration in force keeps serving.")]
        public static partial void ReloadFailed(ILogger logger, string type, string reason);
    }
}
