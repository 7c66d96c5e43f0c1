using System.Diagnostics;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// A service's request limit, as Key Vault and token endpoints apply one: at most <see cref="PerSecond"/> requests in each
/// one-second window (the windows follow the clock from the limiter's creation); beyond it, 429 with
/// <c>Retry-After: <see cref="RetryAfterSeconds"/></c>. Counts what it let through and what it refused.
/// </summary>
public sealed class RateLimit(int perSecond, int retryAfterSeconds = 1)
{
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _window = -1;
    private int _inWindow;
    private int _allowed;
    private int _refused;

    public int PerSecond { get; } = perSecond;

    public int RetryAfterSeconds { get; } = retryAfterSeconds;

    public int Allowed => Volatile.Read(ref _allowed);

    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Counts a request; false when it is beyond the limit (answer it 429 with Retry-After).</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            var window = _clock.ElapsedMilliseconds / 1000;
            if (window != _window)
            {
                _window = window;
                _inWindow = 0;
            }
            if (_inWindow < PerSecond)
            {
                _inWindow++;
                _allowed++;
                return true;
            }
            _refused++;
            return false;
        }
    }

    /// <summary>Answers a refused request the way Key Vault does: 429, Retry-After, a JSON error.</summary>
    public Task RefuseAsync(HttpResponse response, string body)
    {
        response.StatusCode = 429;
        response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.ContentType = "application/json; charset=utf-8";
        return response.WriteAsync(body);
    }
}
