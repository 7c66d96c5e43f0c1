namespace ServiceNodeInvoker.Contract;

/// <summary>The headers the invoker itself reads or writes, in every mode.</summary>
public static class InvokerHeaders
{
    /// <summary>On every invoker problem reply: its code, so a passthrough or forward caller can tell it from the backend's answer.</summary>
    public const string Error = "invoker-error";

    /// <summary>Forward mode: lowers the profile's timeout for this call (seconds).</summary>
    public const string Timeout = "invoker-timeout";

    /// <summary>Passthrough and forward replies: the invocation's duration in milliseconds.</summary>
    public const string Duration = "invoker-duration-ms";

    /// <summary>Passthrough of a HEAD, 204 or 304 answer: the backend's Content-Length (our reply to the POST has no body).</summary>
    public const string BackendContentLength = "invoker-backend-content-length";

    /// <summary>
    /// Profiles with a token source, when the backend refused the access token (401 <c>invalid_token</c>): <c>refreshed</c>
    /// (the call was sent again once with a new token; this is that answer), or <c>not-retried</c> (the token was dropped,
    /// but a streamed forward-mode body cannot be sent twice: the backend's 401 is relayed; call again).
    /// </summary>
    public const string Token = "invoker-token";
}
