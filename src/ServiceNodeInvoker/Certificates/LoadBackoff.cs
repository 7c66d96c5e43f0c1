namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// How long to wait before trying a failed load again: at least the vault's Retry-After, plus a random spread that doubles
/// with each consecutive failure (1 s, 2 s, 4 s, 8 s at most). The spread is what keeps instances that were refused in the
/// same second from all coming back in the same second: a bare Retry-After would bring them back in lockstep.
/// </summary>
internal static class LoadBackoff
{
    /// <summary>The spread of the first retry; it doubles per consecutive failure up to <see cref="MaxSpread"/>.</summary>
    public static readonly TimeSpan FirstSpread = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxSpread = TimeSpan.FromSeconds(8);

    /// <summary>Without a Retry-After (a 5xx, no answer), the wait starts at this.</summary>
    public static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(250);

    /// <summary>Retry-After values beyond this are taken as this (a vault asking for minutes is answered by the background refresh).</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(60);

    /// <param name="failures">Consecutive failures so far, 1 for the first.</param>
    /// <param name="retryAfter">The vault's Retry-After, when it sent one.</param>
    /// <param name="random">A uniform draw in [0, 1).</param>
    public static TimeSpan Delay(int failures, TimeSpan? retryAfter, double random)
    {
        var floor = retryAfter is { } wait && wait > MinimumWait ? (wait < MaxRetryAfter ? wait : MaxRetryAfter) : MinimumWait;
        return floor + Spread(failures) * random;
    }

    /// <summary>The width of the random part after this many consecutive failures.</summary>
    public static TimeSpan Spread(int failures)
    {
        var spread = FirstSpread * Math.Pow(2, Math.Clamp(failures - 1, 0, 16));
        return spread < MaxSpread ? spread : MaxSpread;
    }
}
