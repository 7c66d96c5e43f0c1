using System.Net.Sockets;
using System.Security.Authentication;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// The one place transport failures become invoker errors with plain-words messages, whether they
/// happen while sending (up to the response headers) or while reading the body afterwards. Messages
/// name the host:port and the reason, never the path, query, headers or body.
/// </summary>
public static class FailureClassifier
{
    /// <summary>A failure of an invocation: a timeout when its deadline passed, else what the exception shows.</summary>
    /// <param name="timedOut">The invocation's own deadline passed (not the caller going away).</param>
    /// <param name="presentedClientCertificate">Our certificate was on offer: a close right after the handshake then reads as a refusal.</param>
    public static InvokerException Classify(Exception exception, TlsProfile profile, InvocationRequest request, bool timedOut, bool presentedClientCertificate)
    {
        if (exception is InvokerException known)
        {
            return known;
        }
        // Forward mode streams the caller's body while sending: its own faults are the caller's, not the backend's.
        if (Find<InvokerException>(exception) is { } fromBody)
        {
            return fromBody;
        }
        if (Find<Microsoft.AspNetCore.Http.BadHttpRequestException>(exception) is { } framing)
        {
            return InvokerException.Invalid("body", $"The request body's framing is broken: {framing.Message}");
        }
        return timedOut ? Timeout(profile, request) : Classify(exception, profile, request.Url, presentedClientCertificate);
    }

    public static InvokerException Timeout(TlsProfile profile, InvocationRequest request) =>
        new(ErrorCodes.BackendTimeout,
            $"{HostKey.FromUri(request.Url)} did not answer within {profile.EffectiveTimeout(request.Timeout).TotalSeconds:0.###} s " +
            $"(profile '{profile.Name}' allows at most {profile.Timeout.TotalSeconds:0.###} s).");

    private static InvokerException Classify(Exception exception, TlsProfile profile, Uri url, bool presentedClientCertificate)
    {
        var target = HostKey.FromUri(url).ToString();
        if (Find<TargetAddressNotAllowedException>(exception) is { } blocked)
        {
            return new InvokerException(ErrorCodes.TargetNotAllowed, $"Address policy: {blocked.Message}", "url", exception);
        }
        if (Find<ServerCertificateRejectedException>(exception) is { } rejected)
        {
            return new InvokerException(ErrorCodes.TlsHandshakeFailed,
                $"The server certificate of {target} was rejected: {rejected.Message}.", inner: exception)
            {
                ServerCertificateRejected = true,
            };
        }
        if (Find<AuthenticationException>(exception) is { } authentication)
        {
            var detail = Innermost(authentication);
            return new InvokerException(ErrorCodes.TlsHandshakeFailed,
                presentedClientCertificate
                    ? $"The TLS handshake with {target} failed ({detail}). The backend most likely refused our client certificate " +
                      $"(profile '{profile.Name}'): check that it trusts the certificate's issuing CA."
                    : $"The TLS handshake with {target} failed ({detail}).", inner: exception)
            {
                ClientCertificateRefused = presentedClientCertificate,
            };
        }
        if (exception is HttpRequestException http)
        {
            switch (http.HttpRequestError)
            {
                case HttpRequestError.NameResolutionError:
                    return new InvokerException(ErrorCodes.BackendUnreachable, $"The host name of {target} could not be resolved (DNS).", inner: exception);
                case HttpRequestError.ConnectionError when Find<SocketException>(exception) is { } socket:
                    return new InvokerException(ErrorCodes.BackendUnreachable,
                        $"Could not connect to {target}: {BackendConnector.Describe(socket.SocketErrorCode)}.", inner: exception);
                case HttpRequestError.SecureConnectionError:
                    return new InvokerException(ErrorCodes.TlsHandshakeFailed, $"The TLS handshake with {target} failed.", inner: exception);
                case HttpRequestError.ResponseEnded or HttpRequestError.Unknown when presentedClientCertificate && IsEndOfStream(exception):
                    // A server that refuses the client certificate often completes the handshake and then closes
                    // (always under TLS 1.3, where its alert arrives on our first read; .NET servers under 1.2 too).
                    // That is indistinguishable here from a backend that crashes before answering: say both.
                    return new InvokerException(ErrorCodes.TlsHandshakeFailed,
                        $"{target} closed the connection right after the TLS handshake without answering: the backend most likely " +
                        $"refused our client certificate (profile '{profile.Name}'). Check that it trusts the certificate's issuing CA " +
                        "and that the intermediates are in the certificate source. (A backend that fails before answering looks the same.)",
                        inner: exception)
                    {
                        ClientCertificateRefused = true,
                    };
            }
            return new InvokerException(ErrorCodes.BackendUnreachable,
                $"The connection to {target} failed before a response ({Innermost(exception)}).", inner: exception);
        }
        if (exception is IOException)
        {
            return new InvokerException(ErrorCodes.BackendUnreachable,
                $"The connection to {target} broke while reading the response ({Innermost(exception)}).", inner: exception);
        }
        return new InvokerException(ErrorCodes.BackendUnreachable,
            $"The call to {target} failed ({exception.GetType().Name}).", inner: exception);
    }

    private static bool IsEndOfStream(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        || Find<HttpIOException>(e) is { HttpRequestError: HttpRequestError.ResponseEnded }
        || Find<IOException>(e) is not null;

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T match)
            {
                return match;
            }
        }
        return null;
    }

    /// <summary>The deepest exception's type and message: runtime messages about sockets and TLS carry no request data.</summary>
    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e is SocketException s ? BackendConnector.Describe(s.SocketErrorCode) : e.Message.TrimEnd('.');
    }
}
