namespace ServiceNodeInvoker.Contract;

/// <summary>The stable causes a failed connection is put down to (problem replies' <c>cause</c>, the probe's <c>cause</c>, metrics).</summary>
internal static class FailureCauses
{
    public const string ServerCertificate = "server-certificate";
    public const string ClientCertificateRefused = "client-certificate-refused";
    public const string ClientCertificateMissing = "client-certificate-missing";
    public const string ProtocolVersion = "protocol-version";
    public const string NoSharedCipher = "no-shared-version-or-cipher";
    public const string UnrecognizedName = "unrecognized-name";
    public const string PlainHttp = "plain-http";
    public const string NotTls = "not-tls";
    public const string HandshakeNoAnswer = "handshake-no-answer";
    public const string HandshakeStalled = "handshake-stalled";
    public const string ClosedDuringHandshake = "closed-during-handshake";
    public const string ServerAlert = "server-alert";
    public const string ClosedAfterHandshake = "closed-after-handshake";
    public const string Handshake = "handshake";
    public const string ConnectionRefused = "connection-refused";
    public const string Dns = "dns";
    public const string Connection = "connection";
    public const string ResponseTimeout = "response-timeout";
    public const string ClientCertificateExpired = "client-certificate-expired";
    public const string ClientCertificateNotYetValid = "client-certificate-not-yet-valid";
    public const string CertificateLoadFailed = "certificate-load-failed";

    /// <summary>certificate-unavailable because Key Vault answered 429 (throttling) until the invocation's timeout: a reply with Retry-After.</summary>
    public const string VaultThrottled = "vault-throttled";

    // The token endpoint (token-unavailable); a failure on the way there keeps the connection's cause above.
    public const string TokenEndpointError = "token-endpoint-error";
    public const string TokenResponseInvalid = "token-response-invalid";
    public const string TokenClientCredential = "token-client-credential";
    public const string TokenEndpointThrottled = "token-endpoint-throttled";
    public const string TokenAddressNotAllowed = "token-address-not-allowed";
}
