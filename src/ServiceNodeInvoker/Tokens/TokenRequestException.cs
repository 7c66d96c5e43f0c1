namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// A token request that gave no access token: what happened, in a sentence that names the endpoint and never holds a
/// secret, the token or an assertion; a stable cause (FailureCauses); the endpoint's RFC 6749 <c>error</c> when it sent one.
/// </summary>
internal sealed class TokenRequestException(string message, string cause, string? tokenError = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string Cause => cause;

    public string? TokenError => tokenError;

    /// <summary>Worth asking again in a moment: the endpoint throttled (429) or was briefly unavailable (502–504), or the connection failed.</summary>
    public bool Transient { get; init; }

    /// <summary>How long the endpoint asked us to wait (its Retry-After), when it said.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
