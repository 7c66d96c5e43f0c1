namespace ServiceNodeInvoker.Contract;

/// <summary>The stable <c>code</c> values of invoker errors (docs/contract.md). Bots branch on these.</summary>
public static class ErrorCodes
{
    /// <summary>The invocation request is invalid (400).</summary>
    public const string InvalidRequest = "invalid-request";
    /// <summary>The caller is not authenticated (401).</summary>
    public const string Unauthenticated = "unauthenticated";
    /// <summary>The target URL is not allowed (403).</summary>
    public const string TargetNotAllowed = "target-not-allowed";
    /// <summary>The caller may not use this profile (403).</summary>
    public const string CallerNotAllowed = "caller-not-allowed";
    /// <summary>The named profile does not exist (404).</summary>
    public const string UnknownProfile = "unknown-profile";
    /// <summary>The profile is not set up for forward mode (404).</summary>
    public const string ForwardNotConfigured = "forward-not-configured";
    /// <summary>This endpoint does not take that HTTP method (405).</summary>
    public const string MethodNotAllowed = "method-not-allowed";
    /// <summary>The caller is authenticated but may not use this endpoint (403).</summary>
    public const string Forbidden = "forbidden";
    /// <summary>The TLS handshake with the backend failed (502).</summary>
    public const string TlsHandshakeFailed = "tls-handshake-failed";
    /// <summary>The backend could not be reached (502).</summary>
    public const string BackendUnreachable = "backend-unreachable";
    /// <summary>The backend's response is larger than the profile allows (502).</summary>
    public const string ResponseTooLarge = "response-too-large";
    /// <summary>The backend's response cannot be relayed (502).</summary>
    public const string InvalidBackendResponse = "invalid-backend-response";
    /// <summary>The profile's token endpoint gave no access token, and none is cached (502).</summary>
    public const string TokenUnavailable = "token-unavailable";
    /// <summary>The invoker is at its memory budget for buffered responses; retry shortly (503).</summary>
    public const string Busy = "busy";
    /// <summary>A certificate the profile needs is unavailable (503).</summary>
    public const string CertificateUnavailable = "certificate-unavailable";
    /// <summary>The backend did not answer in time (504).</summary>
    public const string BackendTimeout = "backend-timeout";

    /// <summary>The HTTP status that goes with each code.</summary>
    public static int StatusOf(string code) => code switch
    {
        InvalidRequest => 400,
        Unauthenticated => 401,
        TargetNotAllowed or CallerNotAllowed or Forbidden => 403,
        UnknownProfile or ForwardNotConfigured => 404,
        MethodNotAllowed => 405,
        TlsHandshakeFailed or BackendUnreachable or ResponseTooLarge or InvalidBackendResponse or TokenUnavailable => 502,
        CertificateUnavailable or Busy => 503,
        BackendTimeout => 504,
        _ => 500,
    };

    /// <summary>The problem's title for each code.</summary>
    public static string TitleOf(string code) => code switch
    {
        InvalidRequest => "The invocation request is invalid.",
        Unauthenticated => "The caller is not authenticated.",
        TargetNotAllowed => "The target URL is not allowed.",
        CallerNotAllowed => "The caller may not use this profile.",
        UnknownProfile => "The named profile does not exist.",
        ForwardNotConfigured => "The profile is not set up for forward mode.",
        MethodNotAllowed => "This endpoint does not take that HTTP method.",
        Forbidden => "The caller is authenticated but may not use this endpoint.",
        TlsHandshakeFailed => "The TLS handshake with the backend failed.",
        BackendUnreachable => "The backend could not be reached.",
        ResponseTooLarge => "The backend's response is larger than the profile allows.",
        InvalidBackendResponse => "The backend's response cannot be relayed.",
        TokenUnavailable => "The profile's token endpoint gave no access token.",
        CertificateUnavailable => "A certificate the profile needs is unavailable.",
        Busy => "The invoker is at its memory budget for buffered responses; retry shortly.",
        BackendTimeout => "The backend did not answer in time.",
        _ => "Invoker error.",
    };
}
