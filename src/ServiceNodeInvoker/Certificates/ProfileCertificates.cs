using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Certificates;

/// <summary>A point-in-time view of a profile's certificate state, for health and logs. Holds no secret material.</summary>
public sealed record CertificateState(
    ProfileMaterial? Material,
    DateTimeOffset? LastRefresh,
    DateTimeOffset? LastAttempt,
    string? LastError);

/// <summary>
/// The cached certificate material of one profile. Requests read the cached value; concurrent cold
/// requests share one load; a failed refresh keeps the last good material until it expires.
/// </summary>
public sealed partial class ProfileCertificates(TlsProfile profile, TimeProvider time, ILogger logger)
{
    /// <summary>With nothing cached, a failed load is not retried by requests sooner than this.</summary>
    public static readonly TimeSpan RetryDelayAfterFailure = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private volatile ProfileMaterial? _current;
    private Task<ProfileMaterial>? _inflight;
    private DateTimeOffset? _lastRefresh;
    private DateTimeOffset? _lastAttempt;
    private string? _lastError;

    public TlsProfile Profile => profile;

    public CertificateState State
    {
        get
        {
            lock (_gate)
            {
                return new CertificateState(_current, _lastRefresh, _lastAttempt, _lastError);
            }
        }
    }

    /// <summary>The material to call with; never touches the source once something valid is cached.</summary>
    public async ValueTask<ProfileMaterial> GetAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is null)
        {
            Task<ProfileMaterial> load;
            lock (_gate)
            {
                load = _inflight is { IsCompleted: false } running ? running
                    : _inflight is { IsFaulted: true } failed && time.GetUtcNow() - _lastAttempt < RetryDelayAfterFailure ? failed
                    : StartLoad();
            }
            try
            {
                current = await load.WaitAsync(cancellationToken);
            }
            catch (CertificateLoadException e)
            {
                throw Unavailable($"could not be loaded from {Describe()}: {e.Message}.", e);
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
            lock (_gate)
            {
                var changed = _current?.Version != material.Version;
                _current = changed ? material : _current;
                _lastRefresh = time.GetUtcNow();
                _lastError = null;
            }
            Log.Loaded(logger, profile.Name, client?.Subject, client?.ThumbprintSha256, client?.NotAfter);
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
        lock (_gate)
        {
            _lastError = e.Message;
        }
        Log.LoadFailed(logger, profile.Name, Describe(), e.Message);
        return e;
    }

    private string Describe() => profile.ClientCertificate?.Description ?? profile.TrustedCa?.Description ?? "no source";

    private InvokerException Unavailable(string detail, Exception? inner) =>
        new(ErrorCodes.CertificateUnavailable, $"The certificate of profile '{profile.Name}' {detail}", inner: inner);

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Profile {Profile}: certificate loaded (subject {Subject}, SHA-256 {Thumbprint}, not after {NotAfter}).")]
        public static partial void Loaded(ILogger logger, string profile, string? subject, string? thumbprint, DateTimeOffset? notAfter);

        [LoggerMessage(1002, LogLevel.Error, "Profile {Profile}: certificate from {Source} could not be loaded: {Reason}.")]
        public static partial void LoadFailed(ILogger logger, string profile, string source, string reason);
    }
}
