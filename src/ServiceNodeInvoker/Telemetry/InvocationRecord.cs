using ServiceNodeInvoker.Contract;
using System.Diagnostics;

namespace ServiceNodeInvoker.Telemetry;

/// <summary>The telemetry of one invocation: its activity, and the metrics recorded when it ends (once).</summary>
internal sealed class InvocationRecord(InvokerTelemetry telemetry, Activity? activity) : IDisposable
{
    private string _profile = "(none)";
    private bool _ended;

    public Activity? Activity => activity;

    /// <param name="url">Recorded as <c>url.full</c> without its query and fragment (they may carry secrets).</param>
    public void Target(string profile, string method, string host, int port, Uri url)
    {
        _profile = profile;
        activity?.SetTag("url.full", url.GetLeftPart(UriPartial.Path));
        activity?.SetTag("invoker.profile", profile);
        activity?.SetTag("http.request.method", method);
        activity?.SetTag("server.address", host);
        activity?.SetTag("server.port", port);
    }

    /// <summary>Who called: the caller's configured name (an API key's or a certificate's), or "(unnamed)" for a bare function key.</summary>
    public void Caller(string? name) => activity?.SetTag("invoker.caller", name ?? "(unnamed)");

    public void ClientCertificate(string? thumbprintSha256) => activity?.SetTag("tls.client.certificate.sha256", thumbprintSha256);

    /// <summary>The backend answered (whatever its status).</summary>
    public void Answered(int status, string? tlsProtocol, TimeSpan backendDuration)
    {
        if (_ended)
        {
            return;
        }
        _ended = true;
        activity?.SetTag("http.response.status_code", status);
        activity?.SetTag("tls.protocol.version", tlsProtocol);
        activity?.SetTag("invoker.outcome", "ok");
        telemetry.RecordInvocation(_profile, "ok");
        telemetry.RecordBackendDuration(_profile, status, backendDuration.TotalMilliseconds);
    }

    /// <summary>An invoker error: the code is the outcome.</summary>
    public void Failed(InvokerException error)
    {
        if (_ended)
        {
            return;
        }
        _ended = true;
        activity?.SetTag("invoker.error.code", error.Code);
        activity?.SetTag("invoker.outcome", error.Code);
        if (error.Cause is { } cause)
        {
            activity?.SetTag("invoker.error.cause", cause);
        }
        activity?.SetStatus(ActivityStatusCode.Error, error.Code);
        telemetry.RecordInvocation(_profile, error.Code);
        if (error.Code == ErrorCodes.TlsHandshakeFailed)
        {
            telemetry.RecordHandshakeFailure(_profile, error.HandshakeFailure ?? "handshake");
        }
    }

    /// <summary>Streaming was cut after the status went out (timeout, caller gone, body too large).</summary>
    public void Cut(string reason)
    {
        activity?.SetTag("invoker.cut", reason);
        activity?.SetStatus(ActivityStatusCode.Error, reason);
    }

    public void Dispose() => activity?.Dispose();
}
