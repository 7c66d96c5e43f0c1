using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tokens;

/// <summary>A point-in-time view of a profile's token, for health. Never the token itself.</summary>
/// <param name="BoundTo">The SHA-256 thumbprint of the certificate the cached token was obtained with.</param>
/// <param name="RetryAt">When a throttled or briefly unavailable token request is asked again, while a call waits for it.</param>
/// <param name="RefusedAt">When a backend last refused the token held now (401 invalid_token).</param>
/// <param name="RequestingSince">When the token request in flight started, while there is one.</param>
internal sealed record TokenState(
    DateTimeOffset? ExpiresAt, DateTimeOffset? UsableUntil, string? BoundTo, IReadOnlyList<string>? Scopes, bool? ExpiresInGiven,
    DateTimeOffset? LastRefresh, DateTimeOffset? LastAttempt, string? LastError, string? LastErrorCause, DateTimeOffset? NextRefresh, long Requests,
    DateTimeOffset? RetryAt = null, DateTimeOffset? RefusedAt = null, DateTimeOffset? RequestingSince = null);

/// <summary>
/// One profile's access token. Requests take the cached token and never wait on the endpoint while it is usable;
/// the token is bound to the certificate it was obtained with, so a rotated certificate means a new token;
/// concurrent requests without one share one token request (never more than one in flight per profile), which is
/// asked again — after the endpoint's Retry-After, else a jittered backoff — while the endpoint throttles (429) or is
/// briefly unavailable and a call still waits for it; a timer renews it at 65–75 % of its life (jittered, so
/// instances started together do not renew together), in the background, retrying with backoff while the old one
/// still serves; a backend's <c>invalid_token</c> drops it, at most once per <see cref="ForcedRenewalInterval"/>.
/// </summary>
internal sealed partial class TokenCache(TlsProfile profile, TokenClient client, CertificateCache certificates, DependencyGate endpoint,
    InvokerTelemetry telemetry, TimeProvider time, ILogger logger) : IDisposable
{
    /// <summary>With no usable token, a failed request is not repeated by callers sooner than this (its error is answered).</summary>
    public static readonly TimeSpan RetryDelayAfterFailure = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan[] RenewalBackoff =
        [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)];

    /// <summary>
    /// A backend's refusal of a token forces a new one at most this often: a backend that refuses every token (or a
    /// hostile one) cannot drive the token endpoint; between forced renewals, a refused token's 401 is relayed.
    /// </summary>
    public static readonly TimeSpan ForcedRenewalInterval = TimeSpan.FromSeconds(30);

    /// <summary>The first wait before asking a throttled or unavailable endpoint again when it gave no Retry-After; doubled each time, jittered.</summary>
    public static readonly TimeSpan RetryBase = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between two tries of a token request without Retry-After.</summary>
    public static readonly TimeSpan RetryCap = TimeSpan.FromSeconds(8);

    private readonly Lock _gate = new();
    private readonly ProfileToken _settings = profile.Token!;
    private volatile AccessToken? _current;
    private Task<AccessToken>? _inflight;
    private string? _inflightFor;
    private string? _latestBoundTo;
    private DateTimeOffset? _lastRefresh;
    private DateTimeOffset? _lastAttempt;
    private string? _lastError;
    private string? _lastErrorCause;
    private DateTimeOffset? _nextRefresh;
    private int _failuresInRow;
    private long _requests;
    private int _waiting;
    private DateTimeOffset? _lastForced;
    private bool _skipLogged;
    private TokenRequestException? _lastTransient;
    private DateTimeOffset? _retryAt;
    private DateTimeOffset? _refusedAt;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The soonest a scheduled renewal runs after a token was obtained, however short its life.</summary>
    public static readonly TimeSpan MinRenewal = TimeSpan.FromSeconds(10);

    /// <summary>The least wait after a Retry-After (0 or a past date included): an endpoint cannot make us ask in a loop.</summary>
    public static readonly TimeSpan MinRetryAfter = TimeSpan.FromSeconds(1);
    private ITimer? _timer;
    private bool _disposed;

    public TlsProfile Profile => profile;

    /// <summary>The token step of this profile's backend calls.</summary>
    public BearerTokenPolicy Bearer => _bearer ??= new BearerTokenPolicy(this);

    private BearerTokenPolicy? _bearer;

    public TokenState State
    {
        get
        {
            lock (_gate)
            {
                var current = _current;
                return new TokenState(current?.ExpiresAt, current?.UsableUntil, current?.BoundTo, current?.Scopes, current?.ExpiresInGiven,
                    _lastRefresh, _lastAttempt, _lastError, _lastErrorCause, _nextRefresh, Interlocked.Read(ref _requests), _retryAt,
                    _refusedAt, _inflight is { IsCompleted: false } ? _lastAttempt : null);
            }
        }
    }

    /// <summary>The token to send with this certificate: the cached one while usable, else a shared request for a new one.</summary>
    /// <exception cref="InvokerException">token-unavailable, with the endpoint's error or what went wrong on the way.</exception>
    public async ValueTask<AccessToken> GetAsync(ProfileMaterial material, CancellationToken cancellationToken)
    {
        var boundTo = BoundTo(material);
        var now = time.GetUtcNow();
        var current = _current;
        if (current is not null && current.BoundTo == boundTo && current.UsableAt(now))
        {
            if (now >= current.RenewAt)
            {
                RenewInBackground(material, now); // a late timer (a suspended instance): the request still does not wait
            }
            return current;
        }
        // While a call waits, a throttled request is asked again (within the request's window): the count says so,
        // from before the request can start, so even a failure at once finds this call waiting.
        Interlocked.Increment(ref _waiting);
        try
        {
            Task<AccessToken> request;
            lock (_gate)
            {
                request = Shared(material, boundTo, now, answerRecentFailure: true);
            }
            return await request.WaitAsync(cancellationToken);
        }
        catch (TokenRequestException e)
        {
            throw Unavailable(e);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    /// <summary>
    /// The reply when a call's deadline passed while it waited for a token: what the endpoint last said, if it said
    /// anything (the request goes on in the background, so a later call may find the token).
    /// </summary>
    public InvokerException NotInTime(TimeSpan wait)
    {
        var seconds = $"{wait.TotalSeconds:0.###} s";
        TokenRequestException? last;
        lock (_gate)
        {
            last = _inflight is { IsCompleted: false } ? _lastTransient : null;
        }
        if (last is null)
        {
            return new InvokerException(ErrorCodes.TokenUnavailable,
                $"No access token within the call's timeout of {seconds}: the token endpoint {_settings.EndpointName} has not answered yet " +
                "(the token request goes on; a later call may find the token).") { Cause = FailureCauses.ResponseTimeout };
        }
        return new InvokerException(ErrorCodes.TokenUnavailable,
            $"No access token within the call's timeout of {seconds}; the token request is asked again while a call waits for it. Last answer: {last.Message}", inner: last)
        {
            Cause = last.Cause,
            TokenError = last.TokenError,
            RetryAfterSeconds = last.RetryAfter is { } after ? (int)Math.Ceiling(after.TotalSeconds) : null,
        };
    }

    /// <summary>A fresh token now (the probe): shares a request in flight, never answers with a recent failure.</summary>
    public async Task<AccessToken> RequestNowAsync(ProfileMaterial material, CancellationToken cancellationToken)
    {
        Task<AccessToken> request;
        lock (_gate)
        {
            request = Shared(material, BoundTo(material), time.GetUtcNow(), answerRecentFailure: false);
        }
        return await request.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The backend refused this token (401 invalid_token). True: a new token is (or is being) asked for, so the call may
    /// be sent again with it — concurrent refusals of one token share that one request. False: a refusal forced a new
    /// token less than <see cref="ForcedRenewalInterval"/> ago, so this token is kept and the backend's 401 is the answer.
    /// </summary>
    public bool Refused(AccessToken token)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (!ReferenceEquals(_current, token))
            {
                return true; // already replaced (another request saw the refusal first, or it was renewed): share the new one
            }
            _refusedAt = now;
            if (_lastForced is { } last && now - last < ForcedRenewalInterval)
            {
                if (!_skipLogged)
                {
                    _skipLogged = true;
                    Log.RenewalSkipped(logger, profile.Name, (long)ForcedRenewalInterval.TotalSeconds);
                }
                return false;
            }
            _lastForced = now;
            _skipLogged = false;
            _current = null;
        }
        Log.Dropped(logger, profile.Name, _settings.EndpointName);
        return true;
    }

    public static InvokerException Unavailable(TokenRequestException e) =>
        new(ErrorCodes.TokenUnavailable, e.Message, inner: e)
        {
            Cause = e.Cause,
            TokenError = e.TokenError,
            RetryAfterSeconds = e.RetryAfter is { } after ? (int)Math.Ceiling(after.TotalSeconds) : null,
        };

    private static string BoundTo(ProfileMaterial material) => material.Client?.ThumbprintSha256 ?? "";

    /// <summary>The request in flight for this certificate, a recent failure (callers only), or a new request. Under the gate.</summary>
    private Task<AccessToken> Shared(ProfileMaterial material, string boundTo, DateTimeOffset now, bool answerRecentFailure)
    {
        _latestBoundTo = boundTo;
        if (_inflight is { IsCompleted: false } running && _inflightFor == boundTo)
        {
            return running;
        }
        if (answerRecentFailure && _inflight is { IsFaulted: true } failed && _inflightFor == boundTo && now - _lastAttempt < RetryDelayAfterFailure)
        {
            return failed;
        }
        _inflightFor = boundTo;
        _lastAttempt = now;
        var request = Task.Run(() => FetchAsync(material));
        _inflight = request;
        return request;
    }

    private void RenewInBackground(ProfileMaterial material, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (_disposed || _inflight is { IsCompleted: false } || now - _lastAttempt < RetryDelayAfterFailure)
            {
                return;
            }
            _ = Shared(material, BoundTo(material), now, answerRecentFailure: false).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// One token request, asked again while it fails transiently (429, 502–504, a refused or broken connection) and a
    /// call still waits for it, within the request's window: after the endpoint's pause (<see cref="RetryDelay"/>, through
    /// the endpoint's gate). Never more than one in flight for this profile (this is the shared request), nor for
    /// its token endpoint on this instance (<see cref="TokenStore.EndpointGateOptions"/>); a wait the endpoint asked for holds every
    /// profile that uses it.
    /// </summary>
    private async Task<AccessToken> FetchAsync(ProfileMaterial material)
    {
        var started = time.GetTimestamp();
        var window = profile.Timeout; // at most 230 s (validated)
        while (true)
        {
            var turn = await endpoint.EnterAsync(_stopping.Token);
            lock (_gate)
            {
                _retryAt = null;
            }
            try
            {
                var token = await FetchOnceAsync(material);
                endpoint.Answered();
                return token;
            }
            catch (TokenRequestException e) when (e.Transient)
            {
                // Before the turn is given up: nobody here asks before then, and the requests after it are spaced.
                endpoint.Throttled(e.RetryAfter); // the pause is RetryDelay's, for the whole endpoint
                var delay = endpoint.PauseLeft;
                if (Volatile.Read(ref _waiting) == 0 || time.GetElapsedTime(started) + delay >= window || _stopping.IsCancellationRequested)
                {
                    throw; // nobody waits for it (a background renewal has its own schedule), or no time is left
                }
                lock (_gate)
                {
                    _lastTransient = e;
                    _retryAt = endpoint.NextTry;
                }
            }
            finally
            {
                turn.Dispose();
            }
        }
    }

    /// <summary>
    /// The token endpoint's pause after a transient failure (<see cref="TokenStore.EndpointGateOptions"/>): its Retry-After
    /// (at least <see cref="MinRetryAfter"/>) plus up to half as much again (instances told the same second come back
    /// spread over the next half of it, not together), else full jitter under a ceiling that doubles with each failure in
    /// a row at the endpoint (<see cref="RetryBase"/> up to <see cref="RetryCap"/>).
    /// </summary>
    /// <param name="throttles">The failures in a row at the endpoint, this one included (1 for the first).</param>
    /// <param name="retryAfter">The endpoint's Retry-After, when it sent one.</param>
    /// <param name="random">A uniform draw in [0, 1).</param>
    internal static TimeSpan RetryDelay(int throttles, TimeSpan? retryAfter, double random)
    {
        if (retryAfter is { } given)
        {
            var after = given < MinRetryAfter ? MinRetryAfter : given;
            return after + TimeSpan.FromTicks((long)(random * Math.Max(after.Ticks / 2, TimeSpan.FromMilliseconds(100).Ticks)));
        }
        var ceiling = Math.Min(RetryCap.Ticks, RetryBase.Ticks << Math.Clamp(throttles - 1, 0, 16));
        return TimeSpan.FromTicks((long)(random * ceiling));
    }

    private async Task<AccessToken> FetchOnceAsync(ProfileMaterial material)
    {
        Interlocked.Increment(ref _requests);
        try
        {
            var token = await client.RequestAsync(profile, material, _stopping.Token, _current);
            lock (_gate)
            {
                if (token.BoundTo == _latestBoundTo || _current is null)
                {
                    _current = token;
                }
                _lastRefresh = token.ObtainedAt;
                _refusedAt = null;
                _lastTransient = null;
                _lastError = null;
                _lastErrorCause = null;
                _failuresInRow = 0;
                // Never sooner than MinRenewal: an endpoint issuing 1-second tokens does not get a renewal a second.
                var renewIn = token.RenewAt - time.GetUtcNow();
                Arm(renewIn < MinRenewal ? MinRenewal : renewIn);
            }
            telemetry.RecordTokenRequest(profile.Name, "success");
            Log.Obtained(logger, profile.Name, _settings.EndpointName, (long)token.Lifetime.TotalSeconds,
                token.BoundTo.Length == 0 ? "none" : token.BoundTo, string.Join(' ', token.Scopes));
            return token;
        }
        catch (Exception e)
        {
            var failure = e as TokenRequestException
                ?? new TokenRequestException($"The token request to {_settings.EndpointName} failed: {e.GetType().Name}.", FailureCauses.TokenResponseInvalid, inner: e);
            bool serving;
            lock (_gate)
            {
                _lastError = failure.Message;
                _lastErrorCause = failure.Cause;
                _failuresInRow++;
                // While a token still serves, keep trying in the background before it runs out; without one, the next call asks.
                serving = _current is { } current && current.UsableAt(time.GetUtcNow());
                Arm(serving ? RenewalBackoff[Math.Min(_failuresInRow, RenewalBackoff.Length) - 1] : null);
            }
            telemetry.RecordTokenRequest(profile.Name, failure.Cause);
            Log.Failed(logger, profile.Name, _settings.EndpointName, failure.Cause, serving, LogText.Escape(failure.Message));
            throw failure;
        }
    }

    /// <summary>(Re)arms the renewal timer, or stops it (null). Under the gate.</summary>
    private void Arm(TimeSpan? delay)
    {
        if (_disposed)
        {
            return;
        }
        if (delay is not { } due)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _nextRefresh = null;
            return;
        }
        due = due < TimeSpan.Zero ? TimeSpan.Zero : due;
        _timer ??= time.CreateTimer(static state => _ = ((TokenCache)state!).RenewOnScheduleAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(due, Timeout.InfiniteTimeSpan);
        _nextRefresh = time.GetUtcNow() + due;
    }

    private async Task RenewOnScheduleAsync()
    {
        try
        {
            // The certificate as it is now: a rotation since the last token is picked up here too.
            var material = await certificates.GetAsync(CancellationToken.None);
            Task<AccessToken> request;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }
                request = Shared(material, BoundTo(material), time.GetUtcNow(), answerRecentFailure: false);
            }
            await request;
        }
        catch (InvokerException e)
        {
            // No usable certificate: no token can be asked for with it. Health shows the certificate's own error.
            lock (_gate)
            {
                _lastError = $"The token was not renewed: {e.Message}";
                _lastErrorCause = e.Cause;
                Arm(_current is { } current && current.UsableAt(time.GetUtcNow()) ? RenewalBackoff[^1] : null);
            }
        }
        catch (TokenRequestException)
        {
            // Recorded, logged and re-armed by the request itself.
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _stopping.Cancel(); // a request in flight or waiting its turn stops with the host
            _timer?.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5001, LogLevel.Information, "Access token for profile '{Profile}' obtained from {Endpoint}: lives {LifetimeSeconds} s, bound to certificate {BoundTo}, scopes '{Scopes}'.")]
        public static partial void Obtained(ILogger logger, string profile, string endpoint, long lifetimeSeconds, string boundTo, string scopes);

        [LoggerMessage(5002, LogLevel.Warning, "Token request for profile '{Profile}' to {Endpoint} failed ({Cause}; cached token still serving: {Serving}): {Reason}")]
        public static partial void Failed(ILogger logger, string profile, string endpoint, string cause, bool serving, string reason);

        [LoggerMessage(5003, LogLevel.Warning, "The backend refused the access token of profile '{Profile}' (401 invalid_token): dropped; a new one is asked for from {Endpoint}.")]
        public static partial void Dropped(ILogger logger, string profile, string endpoint);

        [LoggerMessage(5004, LogLevel.Warning, "The backend refused the access token of profile '{Profile}' again, within {IntervalSeconds} s of a forced renewal: " +
            "no new token is asked for until then (the backend's 401 is relayed with invoker-token: retry-skipped). A backend that refuses every token " +
            "has a problem of its own (its clock, its trust of the authorization server, the token's audience).")]
        public static partial void RenewalSkipped(ILogger logger, string profile, long intervalSeconds);
    }
}
