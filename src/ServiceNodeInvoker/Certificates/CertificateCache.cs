using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Telemetry;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Certificates;

/// <summary>A point-in-time view of a profile's certificate state, for health and logs. Holds no secret material.</summary>
/// <param name="Vault">Key Vault's own view of the client certificate at the last successful read.</param>
/// <param name="Client">The client certificate as last loaded on its own (it may have loaded while the trusted CA did not).</param>
/// <param name="TrustedCa">The trusted CA as last loaded on its own.</param>
/// <param name="ClientError">Why the client certificate's last load failed (null: it loaded).</param>
/// <param name="TrustedCaError">Why the trusted CA's last load failed (null: it loaded).</param>
internal sealed record CertificateState(
    ProfileMaterial? Material,
    DateTimeOffset? LastRefresh,
    DateTimeOffset? LastAttempt,
    string? LastError,
    DateTimeOffset? NextRefresh,
    VaultView? Vault = null,
    ClientCertificate? Client = null,
    X509Certificate2Collection? TrustedCa = null,
    string? ClientError = null,
    string? TrustedCaError = null);

/// <summary>
/// The cached certificate material of one owner (a profile, or the caller CA). Requests read the cached value and never call the
/// source while it is valid; concurrent cold requests share one load, which keeps trying while one of them still waits
/// (throttling, a failing or unreachable vault: jittered backoff, Retry-After honoured) and gives up as soon as the next try
/// would come after the last waiter's deadline; definitive failures (refused, missing, unusable) are answered at once. A timer
/// refreshes it in the background; a failed refresh keeps the last good material until it expires.
/// </summary>
/// <param name="owner">Whose certificates these are: names the cache in logs, metrics and errors.</param>
internal partial class CertificateCache(
    CertificateOwner owner, ICertificateSource? clientSource, ICertificateSource? trustedCaSource,
    RefreshPolicy policy, CertificateWarnings warnings, InvokerTelemetry telemetry, TimeProvider time, ILogger logger) : IDisposable
{
    /// <summary>With nothing cached, a definitively failed load is not retried by requests sooner than this.</summary>
    public static readonly TimeSpan RetryDelayAfterFailure = TimeSpan.FromSeconds(5);

    /// <summary>How long a caller that names no deadline of its own waits for a load in flight (the default invocation timeout).</summary>
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private volatile ProfileMaterial? _current;
    private Task<ProfileMaterial>? _inflight;
    private DateTimeOffset? _lastRefresh;
    private DateTimeOffset? _lastAttempt;
    private string? _lastError;
    private DateTimeOffset? _nextRefresh;
    private VaultView? _vault;
    private ClientCertificate? _client;
    private X509Certificate2Collection? _trustedCa;
    private string? _clientError;
    private string? _trustedCaError;
    private DateTimeOffset? _lastEarlyRefresh;
    private int _consecutiveFailures;
    private ITimer? _timer;
    private bool _disposed;

    // The load in flight's retries (see LoadWithRetriesAsync): until when its callers wait, their patience as a token,
    // and, once a try failed in a way that may heal, when the next may go and that failure.
    private DateTimeOffset? _waitUntil;
    private CancellationTokenSource? _patience;
    private DateTimeOffset _retryNotBefore;
    private CertificateLoadException? _lastFailure;
    private bool _viewWanted;

    private readonly string name = owner.Key;

    /// <summary>The owner's key: the profile's name, or another owner's setting path.</summary>
    public string Name => name;
    public ICertificateSource? ClientSource => clientSource;
    public ICertificateSource? TrustedCaSource => trustedCaSource;

    /// <summary>How logs and errors name what this cache serves.</summary>
    private string Owner => owner.Description;

    public CertificateState State
    {
        get
        {
            lock (_gate)
            {
                return new CertificateState(_current, _lastRefresh, _lastAttempt, _lastError, _nextRefresh, _vault,
                    _current?.Client ?? _client, _current?.TrustedCa ?? _trustedCa, _clientError, _trustedCaError);
            }
        }
    }

    /// <summary>The material to call with; never touches the source once something valid is cached.</summary>
    public ValueTask<ProfileMaterial> GetAsync(CancellationToken cancellationToken) => GetAsync(DefaultPatience, cancellationToken);

    /// <summary>
    /// The material to call with; never touches the source once something valid is cached. With nothing cached, waits for
    /// the load in flight (starting one if none is) for up to <paramref name="patience"/>: the caller's own deadline.
    /// </summary>
    public async ValueTask<ProfileMaterial> GetAsync(TimeSpan patience, CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is null || IsExpired(current))
        {
            var load = JoinLoad(time.GetUtcNow() + patience);
            try
            {
                current = await load.WaitAsync(patience, time, cancellationToken);
            }
            catch (TimeoutException) when (!cancellationToken.IsCancellationRequested)
            {
                if (current is null)
                {
                    throw StillLoading(patience);
                }
            }
            catch (CertificateLoadException e)
            {
                if (current is null)
                {
                    throw Unavailable(e);
                }
                // Expired and no newer one: fall through to the expiry error, which says so.
            }
        }
        if (current.Client is { } client)
        {
            var now = time.GetUtcNow();
            if (client.NotAfter <= now)
            {
                throw Unavailable($"The client certificate from {clientSource!.Description} expired on {client.NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'} " +
                    $"({CertificateWarnings.DescribeDaysLeft(client.NotAfter, now)}); {AfterExpiry()}.", null, FailureCauses.ClientCertificateExpired);
            }
            if (client.NotBefore > now)
            {
                throw Unavailable($"The client certificate from {clientSource!.Description} is not valid before {client.NotBefore:yyyy-MM-dd'T'HH:mm:ss'Z'}.", null, FailureCauses.ClientCertificateNotYetValid);
            }
        }
        return current;
    }

    /// <summary>Starts the background schedule: a load now, then refreshes per the policy.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_timer is not null)
            {
                return;
            }
            _timer = time.CreateTimer(_ => _ = RefreshOnScheduleAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        _ = RefreshOnScheduleAsync(); // the first load; it arms the timer for the next
    }

    /// <summary>
    /// Called when a backend refused our certificate: maybe it was rotated and the backend already wants
    /// the new one. Rate-limited, so a misconfigured backend cannot make us hammer the vault.
    /// </summary>
    public bool RequestEarlyRefresh()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_timer is null || _disposed || now - _lastEarlyRefresh < RefreshPolicy.EarlyRefreshSpacing)
            {
                return false;
            }
            _lastEarlyRefresh = now;
        }
        Log.EarlyRefresh(logger, Owner);
        _ = RefreshOnScheduleAsync(); // re-arms the timer from now
        return true;
    }

    private async Task RefreshOnScheduleAsync()
    {
        await RefreshAsync(CancellationToken.None);
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            var delay = _lastError is null
                ? policy.AfterSuccess()
                : policy.AfterFailure(_consecutiveFailures, _lastRetryAfter);
            _nextRefresh = time.GetUtcNow() + delay;
            _timer!.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private TimeSpan? _lastRetryAfter;

    /// <summary>Loads afresh and swaps on success; on failure keeps the last good material and records why.</summary>
    public Task RefreshAsync(CancellationToken cancellationToken) => JoinOrLoadAsync(null, cancellationToken);

    /// <summary>
    /// For a reader that needs a concluded state attempted within <paramref name="maxAge"/> (the expiry watch): returns at once
    /// when it has one, else joins the load in flight, else loads now. Decided under
    /// the one lock: a reader that saw "still loading" and then asked for a load could otherwise start a second one (a second
    /// vault read) just after the first ended.
    /// </summary>
    public Task EnsureFreshAsync(TimeSpan maxAge, CancellationToken cancellationToken) => JoinOrLoadAsync(maxAge, cancellationToken);

    private async Task JoinOrLoadAsync(TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        Task<ProfileMaterial> load;
        lock (_gate)
        {
            var concluded = _lastRefresh is not null || _lastError is not null;
            if (maxAge is { } age && concluded && _lastAttempt is { } attempted && time.GetUtcNow() - attempted <= age)
            {
                return;
            }
            load = _inflight is { IsCompleted: false } running ? running : StartLoad();
        }
        try
        {
            await load.WaitAsync(cancellationToken);
        }
        catch (CertificateLoadException)
        {
            // Recorded in State by the load itself.
        }
    }

    private Task<ProfileMaterial> StartLoad()
    {
        _lastAttempt = time.GetUtcNow();
        _waitUntil = null;
        _patience?.Dispose();
        _patience = null;
        var load = _inflight = Task.Run(LoadWithRetriesAsync);
        _ = load.ContinueWith(_ => ReadViewIfWanted(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return load;
    }

    /// <summary>
    /// A caller with nothing usable cached, willing to wait until <paramref name="until"/>: the load in flight (its retries
    /// now reach until then), the recent definitive failure (answered at once for <see cref="RetryDelayAfterFailure"/>), or a
    /// new load.
    /// </summary>
    private Task<ProfileMaterial> JoinLoad(DateTimeOffset until)
    {
        lock (_gate)
        {
            var load = _inflight is { IsCompleted: false } running ? running
                : _inflight is { IsFaulted: true } recent && _lastFailure is not { Retryable: true } && time.GetUtcNow() - _lastAttempt < RetryDelayAfterFailure ? recent
                : StartLoad();
            if (!load.IsCompleted && (_waitUntil is not { } known || until > known))
            {
                _waitUntil = until;
                _patience ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
                var left = until - time.GetUtcNow();
                _patience.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }
            return load;
        }
    }

    /// <summary>
    /// One load: tries, and while a caller still waits and the failure may heal (throttled, failing, unreachable), tries again
    /// after <see cref="LoadBackoff"/> — never after the last waiter's deadline, never before the vault's Retry-After. A load
    /// nobody waits for (the background refresh) tries once; a load started before the last one's Retry-After has passed
    /// first waits for it, or gives up at once with that failure when its callers cannot wait so long.
    /// </summary>
    private async Task<ProfileMaterial> LoadWithRetriesAsync()
    {
        for (var failures = 0; ; )
        {
            TimeSpan wait;
            CancellationToken patience;
            lock (_gate)
            {
                wait = _retryNotBefore - time.GetUtcNow();
                if (wait > TimeSpan.Zero && _lastFailure is { Retryable: true } previous && (_waitUntil is not { } until || time.GetUtcNow() + wait >= until))
                {
                    throw previous; // the vault asked us to wait longer than anyone here will: answered at once
                }
                patience = _patience?.Token ?? CancellationToken.None;
            }
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, CancellationToken.None);
            }
            lock (_gate)
            {
                _lastAttempt = time.GetUtcNow();
            }
            try
            {
                return await LoadAsync(patience);
            }
            catch (CertificateLoadException e) when (e.Retryable)
            {
                failures++;
                lock (_gate)
                {
                    _retryNotBefore = time.GetUtcNow() + LoadBackoff.Delay(failures, e.RetryAfter, Random.Shared.NextDouble());
                    if (_waitUntil is not { } until || _retryNotBefore >= until)
                    {
                        throw;
                    }
                }
            }
        }
    }

    /// <summary>
    /// A cold Key Vault load reads the secret alone and so lacks the vault's renewal policy, which an expiry warning names:
    /// for a certificate inside the warning window, the certificate's view is read right after (one GET, in the background).
    /// </summary>
    private void ReadViewIfWanted()
    {
        lock (_gate)
        {
            if (!_viewWanted || _disposed)
            {
                return;
            }
            _viewWanted = false;
        }
        _ = RefreshAsync(CancellationToken.None);
    }

    private async Task<ProfileMaterial> LoadAsync(CancellationToken patience)
    {
        try
        {
            // Each part loads on its own, so health reports each one's state, not the other's failure.
            ClientCertificate? client = null;
            X509Certificate2Collection? trusted = null;
            VaultView? vault = null;
            CertificateLoadException? clientFailure = null;
            CertificateLoadException? trustedFailure = null;
            if (clientSource is not null)
            {
                try
                {
                    var loaded = await LoadPartAsync(clientSource, "the client certificate", patience);
                    vault = loaded.Vault;
                    client = Part(clientSource, "the client certificate", () => ClientCertificate.From(loaded));
                    if (ReplacementRefusal(client) is { } refused)
                    {
                        client = null;
                        throw new CertificateLoadException(refused);
                    }
                }
                catch (CertificateLoadException e)
                {
                    clientFailure = e;
                }
            }
            if (trustedCaSource is not null)
            {
                try
                {
                    trusted = (await LoadPartAsync(trustedCaSource, "the trusted CA", patience)).Certificates;
                    if (trusted.Count == 0)
                    {
                        throw new CertificateLoadException($"the trusted CA from {trustedCaSource.Description} holds no certificate");
                    }
                }
                catch (CertificateLoadException e)
                {
                    trusted = null;
                    trustedFailure = e;
                }
            }
            lock (_gate)
            {
                _client = client ?? _client;
                _trustedCa = trusted ?? _trustedCa;
                _clientError = clientFailure?.Message;
                _trustedCaError = trustedFailure?.Message;
            }
            if (clientFailure is not null || trustedFailure is not null)
            {
                throw clientFailure is not null && trustedFailure is not null
                    ? new CertificateLoadException($"{clientFailure.Message}; {trustedFailure.Message}", clientFailure, Later(clientFailure.RetryAfter, trustedFailure.RetryAfter),
                        clientFailure.Kind == LoadFailureKind.Definitive || trustedFailure.Kind == LoadFailureKind.Definitive ? LoadFailureKind.Definitive
                        : clientFailure.Kind == LoadFailureKind.Throttled || trustedFailure.Kind == LoadFailureKind.Throttled ? LoadFailureKind.Throttled
                        : LoadFailureKind.Transient)
                    : clientFailure ?? trustedFailure!;
            }
            var material = ProfileMaterial.Create(client, trusted);
            bool changed;
            lock (_gate)
            {
                changed = _current?.Version != material.Version;
                _current = changed ? material : _current;
                _vault = vault;
                _lastRefresh = time.GetUtcNow();
                _lastError = null;
                _lastRetryAfter = null;
                _consecutiveFailures = 0;
                _lastFailure = null;
                _retryNotBefore = default;
            }
            if (changed && client is not null)
            {
                Log.Loaded(logger, Owner, LogText.Quote(client.Subject), client.ThumbprintSha256, client.SourceVersion ?? "none", client.NotAfter.UtcDateTime);
            }
            if (changed && trusted is not null)
            {
                Log.TrustedCaLoaded(logger, owner.TrustedCaDescription,
                    trusted.Count, LogText.Quote(string.Join("; ", trusted.Select(c => LogText.Quote(c.Subject))), ExpiryCheck.ReasonLength));
            }
            telemetry.RecordRefresh(name, success: true);
            telemetry.Startup.CertificatesLoaded(name);
            if (client is not null)
            {
                if (vault?.Renewal == KeyVaultCertificateSource.RenewalNotRead && warnings.InWindow(client))
                {
                    lock (_gate)
                    {
                        _viewWanted = true; // warned once the view says whether the vault renews it
                    }
                }
                else
                {
                    warnings.CheckExpiry(name, client, vault?.Renewal);
                }
            }
            return _current!;
        }
        catch (Exception e) when (e is not CertificateLoadException)
        {
            // Unexpected failures still must not leak details such as key bytes: keep the type only.
            throw Record(new CertificateLoadException($"loading from {Describe()} failed unexpectedly ({e.GetType().Name})", e));
        }
        catch (CertificateLoadException e)
        {
            throw Record(e);
        }
    }

    private CertificateLoadException Record(CertificateLoadException e)
    {
        telemetry.RecordRefresh(name, success: false);
        lock (_gate)
        {
            _lastError = e.Message;
            _lastRetryAfter = e.RetryAfter;
            _consecutiveFailures++;
            _lastFailure = e;
        }
        Log.LoadFailed(logger, Owner, e.Message, string.Join(", ", new[] { clientSource?.Location, trustedCaSource?.Location }.Where(l => l is not null)));
        return e;
    }

    private bool IsExpired(ProfileMaterial material) => material.Client is { } client && client.NotAfter <= time.GetUtcNow();

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
            _patience?.Dispose();
        }
    }

    private string Describe() => clientSource?.Description ?? trustedCaSource?.Description ?? "no source";

    /// <summary>Makes something of a loaded part; its failures say which part and where from.</summary>
    private static T Part<T>(ICertificateSource source, string part, Func<T> make)
    {
        try
        {
            return make();
        }
        catch (CertificateLoadException e)
        {
            throw e.Reworded($"{part} from {source.Description} could not be used: {e.Message}");
        }
    }

    /// <summary>Loads one part; its failures say which part and where from.</summary>
    private static async Task<LoadedCertificates> LoadPartAsync(ICertificateSource source, string part, CancellationToken patience)
    {
        try
        {
            return await source.LoadAsync(patience);
        }
        catch (CertificateLoadException e)
        {
            throw e.Reworded($"{part} from {source.Description} could not be loaded: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Unexpected failures must not leak details such as key bytes: the type only.
            throw new CertificateLoadException($"{part} from {source.Description} could not be read ({e.GetType().Name})", e);
        }
    }

    private static string Capitalised(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    private InvokerException Unavailable(string detail, Exception? inner, string cause, int? retryAfterSeconds = null) =>
        new(ErrorCodes.CertificateUnavailable, $"{Capitalised(Owner)} cannot make calls: {detail}", inner: inner) { Cause = cause, RetryAfterSeconds = retryAfterSeconds };

    /// <summary>
    /// A load that failed with nothing cached. Throttling is said to be throttling (vault-throttled), never the certificate being
    /// unavailable in general; a failure that may heal carries when to retry (Retry-After on the 503).
    /// </summary>
    private InvokerException Unavailable(CertificateLoadException e)
    {
        if (!e.Retryable)
        {
            return Unavailable($"{Capitalised(e.Message)}.", e, FailureCauses.CertificateLoadFailed);
        }
        var retry = RetryAfterSeconds();
        return e.Kind == LoadFailureKind.Throttled
            ? Unavailable($"{Capitalised(e.Message)}; it kept throttling until this invocation's timeout. Retry after {retry} s.", e, FailureCauses.VaultThrottled, retry)
            : Unavailable($"{Capitalised(e.Message)}; still failing at this invocation's timeout. Retry after {retry} s.", e, FailureCauses.CertificateLoadFailed, retry);
    }

    /// <summary>The load in flight had no answer within the caller's patience: what it met so far, else that it is slow.</summary>
    private InvokerException StillLoading(TimeSpan patience)
    {
        CertificateLoadException? failure;
        lock (_gate)
        {
            failure = _lastFailure;
        }
        return failure is { Retryable: true }
            ? Unavailable(failure)
            : Unavailable($"Loading from {Describe()} had no answer within this invocation's timeout ({patience.TotalSeconds:0.#} s); it goes on in the background.",
                null, FailureCauses.CertificateLoadFailed, RetryAfterSeconds());
    }

    /// <summary>Whole seconds until the next try may go (at least 1).</summary>
    private int RetryAfterSeconds()
    {
        DateTimeOffset notBefore;
        lock (_gate)
        {
            notBefore = _retryNotBefore;
        }
        var wait = notBefore - time.GetUtcNow();
        return Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
    }

    private static TimeSpan? Later(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Client certificate of {Owner} loaded: subject {Subject}, SHA-256 {Thumbprint}, version {Version}, not after {NotAfter:yyyy-MM-dd'T'HH:mm:ss'Z'}.")]
        public static partial void Loaded(ILogger logger, string owner, string subject, string thumbprint, string version, DateTime notAfter);

        [LoggerMessage(1005, LogLevel.Information, "{What} loaded: {Count} certificate(s): {Subjects}.")]
        public static partial void TrustedCaLoaded(ILogger logger, string what, int count, string subjects);

        [LoggerMessage(1003, LogLevel.Warning, "A backend refused the client certificate of {Owner}; re-reading it early in case it was rotated.")]
        public static partial void EarlyRefresh(ILogger logger, string owner);

        [LoggerMessage(1002, LogLevel.Warning, "Certificates of {Owner} could not be loaded: {Reason} (from {Location}).")]
        public static partial void LoadFailed(ILogger logger, string owner, string reason, string location);
    }
}
