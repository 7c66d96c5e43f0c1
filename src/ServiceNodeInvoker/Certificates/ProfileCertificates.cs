using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Certificates;

/// <summary>A point-in-time view of a profile's certificate state, for health and logs. Holds no secret material.</summary>
public sealed record CertificateState(
    ProfileMaterial? Material,
    DateTimeOffset? LastRefresh,
    DateTimeOffset? LastAttempt,
    string? LastError,
    DateTimeOffset? NextRefresh);

/// <summary>
/// The cached certificate material of one profile. Requests read the cached value and never call the
/// source while it is valid; concurrent cold requests share one load; a timer refreshes it in the
/// background; a failed refresh keeps the last good material until it expires.
/// </summary>
public sealed partial class ProfileCertificates(
    TlsProfile profile, RefreshPolicy policy, CertificateWarnings warnings, InvokerTelemetry telemetry, TimeProvider time, ILogger logger) : IDisposable
{
    /// <summary>With nothing cached, a failed load is not retried by requests sooner than this.</summary>
    public static readonly TimeSpan RetryDelayAfterFailure = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private volatile ProfileMaterial? _current;
    private Task<ProfileMaterial>? _inflight;
    private DateTimeOffset? _lastRefresh;
    private DateTimeOffset? _lastAttempt;
    private string? _lastError;
    private DateTimeOffset? _nextRefresh;
    private DateTimeOffset? _lastEarlyRefresh;
    private int _consecutiveFailures;
    private ITimer? _timer;
    private bool _disposed;

    public TlsProfile Profile => profile;

    public CertificateState State
    {
        get
        {
            lock (_gate)
            {
                return new CertificateState(_current, _lastRefresh, _lastAttempt, _lastError, _nextRefresh);
            }
        }
    }

    /// <summary>The material to call with; never touches the source once something valid is cached.</summary>
    public async ValueTask<ProfileMaterial> GetAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is null || IsExpired(current))
        {
            Task<ProfileMaterial> load;
            lock (_gate)
            {
                load = _inflight is { IsCompleted: false } running ? running
                    : _inflight is { IsCompleted: true } recent && time.GetUtcNow() - _lastAttempt < RetryDelayAfterFailure ? recent
                    : StartLoad();
            }
            try
            {
                current = await load.WaitAsync(cancellationToken);
            }
            catch (CertificateLoadException e)
            {
                if (current is null)
                {
                    throw Unavailable($"could not be loaded from {Describe()}: {e.Message}.", e);
                }
                // Expired and no newer one: fall through to the expiry error, which says so.
            }
        }
        if (current.Client is { } client)
        {
            var now = time.GetUtcNow();
            if (client.NotAfter <= now)
            {
                throw Unavailable($"from {Describe()} expired on {client.NotAfter:u}; no newer certificate could be loaded.", null);
            }
            if (client.NotBefore > now)
            {
                throw Unavailable($"from {Describe()} is not valid before {client.NotBefore:u}.", null);
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
        Log.EarlyRefresh(logger, profile.Name);
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
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        Task<ProfileMaterial> load;
        lock (_gate)
        {
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
        return _inflight = Task.Run(LoadAsync);
    }

    private async Task<ProfileMaterial> LoadAsync()
    {
        try
        {
            ClientCertificate? client = null;
            X509Certificate2Collection? trusted = null;
            if (profile.ClientCertificate is { } clientSource)
            {
                client = ClientCertificate.From(await clientSource.LoadAsync(CancellationToken.None));
            }
            if (profile.TrustedCa is { } caSource)
            {
                trusted = (await caSource.LoadAsync(CancellationToken.None)).Certificates;
                if (trusted.Count == 0)
                {
                    throw new CertificateLoadException($"the trusted CA from {caSource.Description} holds no certificate");
                }
            }
            var material = ProfileMaterial.Create(client, trusted);
            bool changed;
            lock (_gate)
            {
                changed = _current?.Version != material.Version;
                _current = changed ? material : _current;
                _lastRefresh = time.GetUtcNow();
                _lastError = null;
                _lastRetryAfter = null;
                _consecutiveFailures = 0;
            }
            if (changed)
            {
                Log.Loaded(logger, profile.Name, client?.Subject, client?.ThumbprintSha256, client?.SourceVersion, client?.NotAfter);
            }
            telemetry.RecordRefresh(profile.Name, success: true);
            if (client is not null)
            {
                warnings.CheckExpiry(profile.Name, client);
            }
            return _current!;
        }
        catch (Exception e) when (e is not CertificateLoadException)
        {
            // Unexpected failures still must not leak details such as key bytes: keep the type only.
            throw Record(new CertificateLoadException($"loading failed ({e.GetType().Name})", e));
        }
        catch (CertificateLoadException e)
        {
            throw Record(e);
        }
    }

    private CertificateLoadException Record(CertificateLoadException e)
    {
        telemetry.RecordRefresh(profile.Name, success: false);
        lock (_gate)
        {
            _lastError = e.Message;
            _lastRetryAfter = e.RetryAfter;
            _consecutiveFailures++;
        }
        Log.LoadFailed(logger, profile.Name, Describe(), e.Message);
        return e;
    }

    private bool IsExpired(ProfileMaterial material) => material.Client is { } client && client.NotAfter <= time.GetUtcNow();

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private string Describe() => profile.ClientCertificate?.Description ?? profile.TrustedCa?.Description ?? "no source";

    private InvokerException Unavailable(string detail, Exception? inner) =>
        new(ErrorCodes.CertificateUnavailable, $"The certificate of profile '{profile.Name}' {detail}", inner: inner);

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Profile {Profile}: certificate loaded (subject {Subject}, SHA-256 {Thumbprint}, version {Version}, not after {NotAfter}).")]
        public static partial void Loaded(ILogger logger, string profile, string? subject, string? thumbprint, string? version, DateTimeOffset? notAfter);

        [LoggerMessage(1003, LogLevel.Warning, "Profile {Profile}: a backend refused the client certificate; refreshing it early in case it was rotated.")]
        public static partial void EarlyRefresh(ILogger logger, string profile);

        [LoggerMessage(1002, LogLevel.Error, "Profile {Profile}: certificate from {Source} could not be loaded: {Reason}.")]
        public static partial void LoadFailed(ILogger logger, string profile, string source, string reason);
    }
}
