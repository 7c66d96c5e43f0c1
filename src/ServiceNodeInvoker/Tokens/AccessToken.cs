namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// An access token as the token endpoint issued it, with when to use and renew it. Its value goes on the backend
/// request's Authorization header and nowhere else: <see cref="ToString"/> never shows it.
/// </summary>
/// <param name="Value">The access token. Never logged, traced or put in a reply.</param>
/// <param name="BoundTo">The SHA-256 thumbprint of the client certificate it was obtained with (empty: none): it is used only with that certificate.</param>
/// <param name="ExpiresInGiven">Whether the endpoint said how long it lives (<c>expires_in</c>); if not, it is kept <see cref="AssumedLifetime"/>.</param>
internal sealed record AccessToken(string Value, string BoundTo, DateTimeOffset ObtainedAt, DateTimeOffset ExpiresAt, IReadOnlyList<string> Scopes, bool ExpiresInGiven)
{
    /// <summary>How long a token without <c>expires_in</c> is kept.</summary>
    public static readonly TimeSpan AssumedLifetime = TimeSpan.FromMinutes(5);

    /// <summary>A token is not sent this close to its expiry (at most; a tenth of a short token's life): it could expire on the way.</summary>
    public static readonly TimeSpan ExpirySkew = TimeSpan.FromSeconds(30);

    public TimeSpan Lifetime => ExpiresAt - ObtainedAt;

    /// <summary>The Authorization header's value, built once: every call sends it.</summary>
    public string AuthorizationValue { get; } = "Bearer " + Value;

    /// <summary>Sent until then; after it, a request waits for a new token.</summary>
    public DateTimeOffset UsableUntil => ExpiresAt - TimeSpan.FromTicks(Math.Min(ExpirySkew.Ticks, Lifetime.Ticks / 10));

    /// <summary>
    /// Renewed in the background from then (between 65 and 75 % of its life, drawn once per token), so requests never
    /// wait for a renewal and instances that got their tokens in the same second do not renew in the same second.
    /// </summary>
    public DateTimeOffset RenewAt => ObtainedAt + Lifetime * RenewFraction;

    /// <summary>The share of its life after which the token is renewed: <see cref="RenewLatest"/> less up to a tenth, at random.</summary>
    public double RenewFraction { get; init; } = RenewLatest - Random.Shared.NextDouble() * 0.10;

    /// <summary>The latest share of its life at which a token is renewed.</summary>
    public const double RenewLatest = 0.75;

    public bool UsableAt(DateTimeOffset now) => now < UsableUntil;

    public override string ToString() => $"access token bound to {(BoundTo.Length == 0 ? "no certificate" : BoundTo[..Math.Min(16, BoundTo.Length)])}, expires {ExpiresAt:O}";
}
