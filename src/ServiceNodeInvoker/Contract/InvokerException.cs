namespace ServiceNodeInvoker.Contract;

/// <summary>
/// An invoker error with a stable code. Its message is shown to the caller, so it must never hold
/// secret material (keys, passwords, header values, bodies).
/// </summary>
public sealed class InvokerException(string code, string message, string? field = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;

    /// <summary>The request field at fault, for invalid-request errors.</summary>
    public string? Field { get; } = field;

    public int Status => ErrorCodes.StatusOf(Code);

    /// <summary>The evidence says the backend refused our client certificate (see FailureClassifier for how sure that is).</summary>
    public bool ClientCertificateRefused { get; init; }

    /// <summary>The stable cause the failure classifier found (FailureCauses), sent as the problem's <c>cause</c>.</summary>
    public string? Cause { get; init; }

    /// <summary>For tls-handshake-failed: the cause (server-certificate, client-certificate-refused, plain-http, …).</summary>
    public string? HandshakeFailure =>
        Code != ErrorCodes.TlsHandshakeFailed ? null
        : Cause ?? (ClientCertificateRefused ? "client-certificate-refused" : ServerCertificateRejected ? "server-certificate" : "handshake");

    /// <summary>Our checks of the backend's certificate failed (trust, name or pin).</summary>
    public bool ServerCertificateRejected { get; init; }

    /// <summary>For <c>busy</c>: how long the caller should wait before retrying (sent as Retry-After).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static InvokerException Invalid(string field, string message) => new(ErrorCodes.InvalidRequest, message, field);
}
