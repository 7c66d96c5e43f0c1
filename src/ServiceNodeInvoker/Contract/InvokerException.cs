namespace ServiceNodeInvoker.Contract;

/// <summary>
/// An invoker error with a stable code. Its message is shown to the caller, so it must never hold
/// secret material (keys, passwords, header values, bodies).
/// </summary>
public sealed class InvokerException : Exception
{
    internal InvokerException(string code, string message, string? field = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Field = field;
    }

    /// <summary>The stable error code (<see cref="ErrorCodes"/>), also the problem's <c>code</c>.</summary>
    public string Code { get; }

    /// <summary>The request field at fault, for invalid-request errors.</summary>
    public string? Field { get; }

    /// <summary>The HTTP status the code is answered with.</summary>
    public int Status => ErrorCodes.StatusOf(Code);

    /// <summary>The evidence says the backend refused our client certificate (see FailureClassifier for how sure that is).</summary>
    internal bool ClientCertificateRefused { get; init; }

    /// <summary>The stable cause the failure classifier found (FailureCauses), sent as the problem's <c>cause</c>.</summary>
    public string? Cause { get; init; }

    /// <summary>For tls-handshake-failed: the cause (server-certificate, client-certificate-refused, plain-http, …).</summary>
    internal string? HandshakeFailure =>
        Code != ErrorCodes.TlsHandshakeFailed ? null
        : Cause ?? (ClientCertificateRefused ? "client-certificate-refused" : ServerCertificateRejected ? "server-certificate" : "handshake");

    /// <summary>Our checks of the backend's certificate failed (trust, name or pin).</summary>
    internal bool ServerCertificateRejected { get; init; }

    /// <summary>For <c>token-unavailable</c>: the token endpoint's own RFC 6749 <c>error</c> code, when it answered with one.</summary>
    internal string? TokenError { get; init; }

    /// <summary>For <c>busy</c>: how long the caller should wait before retrying (sent as Retry-After).</summary>
    internal int? RetryAfterSeconds { get; init; }

    internal static InvokerException Invalid(string field, string message) => new(ErrorCodes.InvalidRequest, message, field);
}
