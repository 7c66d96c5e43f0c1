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
}
