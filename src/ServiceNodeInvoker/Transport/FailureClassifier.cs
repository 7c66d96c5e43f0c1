using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// The verdict on a failed connection: the code, a stable cause, and one or two sentences naming the
/// cause and the fix. The invocation reply, the probe and the early certificate re-read all use it.
/// </summary>
internal sealed record Diagnosis(string Code, string Cause, string Text)
{
    /// <summary>The server refused our certificate, on evidence (an alert about it, a refusal page, or a close right after a handshake that asked for it).</summary>
    public bool ClientCertificateRefused => Cause == FailureCauses.ClientCertificateRefused;

    public InvokerException ToException(Exception? inner) => new(Code, Text, inner: inner)
    {
        Cause = Cause,
        ClientCertificateRefused = ClientCertificateRefused,
        ServerCertificateRejected = Cause == FailureCauses.ServerCertificate,
    };
}

/// <summary>
/// The one place a failed connection or exchange gets its cause, from evidence: what the server sent
/// before the handshake ended (<see cref="ServerFlight"/>: an alert, a ServerHello with an old version, an
/// HTTP status line, a banner, nothing), the alert OpenSSL reports for encrypted TLS 1.3 alerts, whether
/// our certificate was offered and asked for, and whether the deadline passed. Where the evidence
/// only allows a guess, the text says what was observed. Messages name the host:port, never the path,
/// query, headers or body.
/// </summary>
internal partial class FailureClassifier
{
    /// <summary>
    /// A failure of an invocation (its send, or the backend's body while it is read): the caller's own fault where its
    /// body was being streamed, our address policy, else a timeout when its deadline passed, else what the exception
    /// and the connection show.
    /// </summary>
    public static InvokerException Classify(Exception exception, Evidence evidence)
    {
        if (exception is SendFailedException failed)
        {
            exception = failed.InnerException!;
        }
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
        if (Find<TargetAddressNotAllowedException>(exception) is { } blocked)
        {
            return new InvokerException(ErrorCodes.TargetNotAllowed, $"Address policy: {blocked.Message}", "url", exception);
        }
        return Diagnose(exception, evidence).ToException(exception);
    }

    /// <summary>A failed send, from the evidence the sender kept (<see cref="SendFailedException.Evidence"/>).</summary>
    public static InvokerException Classify(SendFailedException failure) => Classify(failure, failure.Evidence);

    /// <summary>What is known about a failure besides the exception.</summary>
    /// <param name="TimedOutAfter">The deadline that passed, when one did.</param>
    /// <param name="ServerAskedForCertificate">Whether the server asked for a client certificate, when known another way (the probe's selection callback).</param>
    public sealed record Evidence(HostKey Target, TlsProfile Profile, bool PresentedClientCertificate, TimeSpan? TimedOutAfter, WireWitness? Witness,
        bool? ServerAskedForCertificate = null)
    {
        /// <summary>The client certificate presented, when known: a refusal names what is wrong with it that we can see (a missing issuer).</summary>
        public ClientCertificate? Ours { get; init; }

        /// <summary>The CAs the server said it accepts, when seen before this failure (the probe's handshake).</summary>
        public AcceptedIssuers.Seen? Accepted { get; init; }
    }

    /// <summary>
    /// What to check after a refusal of our certificate, from what we know rather than a list of generic reasons: our chain's
    /// missing issuer (health and the probe warn of it too), and the CAs the server said it accepts — from this handshake
    /// (TLS 1.2 sends them in the clear), from the probe, or else where to see them.
    /// </summary>
    public static string RefusalHints(Evidence evidence, ServerFlight? flight)
    {
        var profile = evidence.Profile;
        var ours = evidence.Ours;
        var hints = new List<string>();
        if (ours is not null)
        {
            hints.AddRange(ours.Warnings.Select(w => $"{char.ToUpperInvariant(w[0])}{w[1..]}."));
        }
        var issuer = ours is null ? "" : $" ours is issued by '{LogText.Quote(ours.Leaf.Issuer)}'.";
        if (flight?.AcceptableIssuers is { Count: > 0 } named)
        {
            hints.Add($"The server named the CAs it accepts: {LogText.QuoteList(named, "; ", n => $"'{n}'")};{issuer}");
        }
        else if (evidence.Accepted is { Issuers.Count: > 0 } seen)
        {
            hints.Add($"The server named the CAs it accepts ({seen.How}, {seen.At:yyyy-MM-dd'T'HH:mm:ss'Z'}): {LogText.QuoteList(seen.Issuers, "; ", n => $"'{n}'")};{issuer}");
        }
        else
        {
            hints.Add($"The probe (POST /api/profiles/{profile.Name}/probe) lists the CAs the server names as accepted, if it names any.");
        }
        if (ours is null || ours.Warnings.Count == 0)
        {
            hints.Insert(0, $"Check that the backend trusts the CA that issued it{(ours is null ? "" : $" ('{LogText.Quote(ours.Leaf.Issuer)}')")} and that the certificate source holds the intermediates.");
        }
        return string.Join(" ", hints);
    }

    /// <summary>The verdict on a failure (exception null: a deadline passed with no exception of its own).</summary>
    public static Diagnosis Diagnose(Exception? exception, Evidence evidence)
    {
        var target = evidence.Target;
        var profile = evidence.Profile;
        if (Find<ServerCertificateRejectedException>(exception) is { } rejected)
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate,
                $"The server certificate of {target} was rejected: {rejected.Message}.");
        }
        if (Find<SocketException>(exception) is { } socket && evidence.Witness is null && !evidence.TimedOutAfter.HasValue
            && socket.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain
                or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.TimedOut)
        {
            return Unreachable(socket.SocketErrorCode, target);
        }
        if (exception is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
        {
            return new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Dns, $"The host name of {target} could not be resolved (DNS).");
        }
        var witness = evidence.Witness;
        var flight = witness?.Flight();
        var alert = flight?.Alert ?? OpenSslAlert(exception);
        var inHandshake = witness is not null ? !witness.HandshakeCompleted : exception is not null && Find<AuthenticationException>(exception) is not null;

        // 1. What the server sent instead of TLS.
        if (flight is { Kind: FlightKind.PlainHttp })
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.PlainHttp,
                $"{target} answered our TLS hello in plain HTTP ('{flight.Preview}'): it is not a TLS port. " +
                "Check the port, or whether the service is http:// only.");
        }
        if (flight is { Kind: FlightKind.NotTls })
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.NotTls,
                $"{target} does not speak TLS: it sent '{flight.Preview}' ({flight.Bytes} bytes that are not a TLS record). " +
                "It is another protocol's port: check the port in the URL and the profile's Hosts.");
        }

        // 2. A version we do not speak, chosen by the server or refused by it.
        if (flight?.HelloVersion is { } version and < 0x0303)
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ProtocolVersion,
                $"{target} chose {ServerFlight.VersionName(version)} in its ServerHello; the invoker speaks TLS 1.2 and 1.3 only. " +
                "The backend must enable TLS 1.2 or later (older versions are insecure and not offered).");
        }

        // 3. An alert from the server.
        if (alert is { } a && (inHandshake || a.IsAboutClientCertificate))
        {
            return FromAlert(a, flight, evidence);
        }

        // 4. The deadline passed.
        if (evidence.TimedOutAfter is { } after)
        {
            var seconds = $"{after.TotalSeconds:0.###} s";
            if (witness is not null && !witness.HandshakeCompleted)
            {
                return witness.BytesBeforeHandshake == 0
                    ? new Diagnosis(ErrorCodes.BackendTimeout, FailureCauses.HandshakeNoAnswer,
                        $"The TLS handshake with {target} never got an answer: the port accepted the connection but sent nothing back within {seconds}. " +
                        "It is not a TLS service (a protocol where the client speaks second, e.g. a database port), or a firewall or proxy holds the connection.")
                    : new Diagnosis(ErrorCodes.BackendTimeout, FailureCauses.HandshakeStalled,
                        $"The TLS handshake with {target} started ({witness.BytesBeforeHandshake} bytes came back) but did not finish within {seconds}.");
            }
            return new Diagnosis(ErrorCodes.BackendTimeout, FailureCauses.ResponseTimeout,
                $"{target} did not answer within {seconds} (profile '{profile.Name}' allows at most {profile.Timeout.TotalSeconds:0.###} s).");
        }

        // 5. The connection ended during the handshake without an alert.
        if (inHandshake && witness is not null)
        {
            var how = witness.ReadError is SocketError.ConnectionReset ? "reset the connection" : "closed the connection";
            return witness.BytesBeforeHandshake == 0
                ? new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClosedDuringHandshake,
                    $"{target} {how} without answering our TLS hello (nothing came back). It is not a TLS service, or it refused our hello " +
                    "without saying why (some servers do so for an unknown host name (SNI) or TLS versions they do not speak).")
                : new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClosedDuringHandshake,
                    $"{target} {how} during the TLS handshake, after {witness.BytesBeforeHandshake} bytes of its own and without an alert.");
        }
        if (Find<AuthenticationException>(exception) is { } authentication)
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.Handshake,
                $"The TLS handshake with {target} failed ({Innermost(authentication)}).");
        }

        // 6. After the handshake: ended without an answer.
        if (exception is not null && IsEndOfStream(exception)
            && (witness is not null ? witness.HandshakeCompleted : exception is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.Unknown }))
        {
            return ClosedAfterHandshake(evidence, flight, exception);
        }
        if (exception is HttpRequestException http)
        {
            switch (http.HttpRequestError)
            {
                case HttpRequestError.ConnectionError when Find<SocketException>(exception) is { } s:
                    return Unreachable(s.SocketErrorCode, target);
                case HttpRequestError.SecureConnectionError:
                    return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.Handshake, $"The TLS handshake with {target} failed ({Innermost(exception)}).");
            }
            return new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Connection,
                $"The connection to {target} failed before a response ({Innermost(exception)}).");
        }
        if (exception is IOException)
        {
            return new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Connection,
                $"The connection to {target} broke while reading the response ({Innermost(exception)}).");
        }
        return new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Connection,
            $"The call to {target} failed ({exception?.GetType().Name ?? "no answer"}).");
    }

    /// <summary>What a TLS alert from the server means, given when it came and what we offered.</summary>
    private static Diagnosis FromAlert(TlsAlert alert, ServerFlight? flight, Evidence evidence)
    {
        var target = evidence.Target;
        var profile = evidence.Profile;
        var said = $"(TLS alert {alert.Name})";
        string Refused(string why) =>
            $"{target} refused our client certificate {said}: {why}. Profile '{profile.Name}': {RefusalHints(evidence, flight)}";
        switch (alert.Description)
        {
            case 70 or 86:
                return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ProtocolVersion,
                    $"{target} refused the TLS versions we offer {said}: it speaks neither TLS 1.2 nor TLS 1.3. " +
                    "The backend must enable TLS 1.2 or later (older versions are insecure and not offered).");
            case 112:
                return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.UnrecognizedName,
                    $"{target} does not serve the host name '{target.Host}' {said}: the name in the URL is not one its TLS configuration knows (SNI). " +
                    "Use the name the backend's certificate is issued for.");
            case 116:
                return evidence.PresentedClientCertificate
                    ? new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused,
                        Refused("it says it got no certificate, so ours did not reach it in a form it accepts"))
                    : new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing,
                        $"{target} requires a client certificate {said} and profile '{profile.Name}' has none: set ClientCertificate on the profile.");
            case 40 or 71 when flight is { AlertBeforeHello: true } || flight?.HelloVersion is null && !evidence.PresentedClientCertificate:
                return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.NoSharedCipher,
                    $"{target} ended the handshake before its ServerHello {said}: it shares no TLS version, cipher suite or key exchange " +
                    "with what we offer (TLS 1.2 and 1.3 with current cipher suites). The backend must enable TLS 1.2 or later with modern cipher suites.");
            case 40 when flight?.CertificateRequested == true || flight?.HelloVersion is 0x0304:
                return evidence.PresentedClientCertificate
                    ? new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused,
                        Refused("it asked for a client certificate and failed the handshake once ours was sent"))
                    : new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing,
                        $"{target} asked for a client certificate and failed the handshake {said}; profile '{profile.Name}' has none: set ClientCertificate on the profile.");
        }
        if (alert.IsAboutClientCertificate)
        {
            if (!evidence.PresentedClientCertificate)
            {
                return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing,
                    $"{target} failed the handshake over a client certificate {said}; profile '{profile.Name}' has none: set ClientCertificate on the profile.");
            }
            var why = alert.Description switch
            {
                48 => "it does not trust the CA that issued it (or the intermediates we send do not reach a CA it trusts)",
                45 => "it considers it expired",
                44 => "it considers it revoked",
                43 => "it does not accept this kind of certificate (key type, or not valid for client authentication)",
                49 => "it recognised the certificate but denies it access",
                _ => "it rejected it",
            };
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, Refused(why));
        }
        return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerAlert,
            $"{target} ended the TLS handshake {said}" + (alert.Description == 80 ? ": an error on the backend's side, not a configuration we can name." : "."));
    }

    /// <summary>
    /// The connection ended after a completed handshake without any answer. A server that refuses a client
    /// certificate often does exactly this (always under TLS 1.3, where its alert comes after the handshake;
    /// .NET servers under 1.2 too), so it reads as a refusal when our certificate was asked for or may have
    /// been (1.3 hides the request); when it certainly was not asked for, it cannot be one.
    /// </summary>
    private static Diagnosis ClosedAfterHandshake(Evidence evidence, ServerFlight? flight, Exception? exception)
    {
        var target = evidence.Target;
        var profile = evidence.Profile;
        var how = evidence.Witness?.ReadError is SocketError.ConnectionReset || Find<SocketException>(exception) is { SocketErrorCode: SocketError.ConnectionReset }
            ? "reset the connection" : "closed the connection";
        var notAsked = evidence.ServerAskedForCertificate == false || flight is { HelloVersion: 0x0303, CertificateRequested: false };
        if (evidence.PresentedClientCertificate && !notAsked)
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused,
                $"{target} {how} right after the TLS handshake without answering: the backend most likely " +
                $"refused our client certificate (profile '{profile.Name}'). {RefusalHints(evidence, flight)} (A backend that fails before answering looks the same.)");
        }
        if (!evidence.PresentedClientCertificate && !notAsked)
        {
            return new Diagnosis(ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing,
                $"{target} {how} right after the TLS handshake without answering, and we presented no client certificate: profile '{profile.Name}' has none. " +
                "A backend that requires one does exactly this under TLS 1.3: if it does, set ClientCertificate on the profile. (A backend that fails before answering looks the same.)");
        }
        return new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.ClosedAfterHandshake,
            $"{target} {how} after the TLS handshake without answering (it did not ask for a client certificate, so this is not about ours).");
    }

    private static Diagnosis Unreachable(SocketError error, HostKey target) => error switch
    {
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain =>
            new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Dns, $"The host name of {target} could not be resolved (DNS)."),
        SocketError.ConnectionRefused =>
            new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.ConnectionRefused, $"Could not connect to {target}: {SocketErrors.Describe(error)}."),
        _ => new Diagnosis(ErrorCodes.BackendUnreachable, FailureCauses.Connection, $"Could not connect to {target}: {SocketErrors.Describe(error)}."),
    };

    /// <summary>The alert OpenSSL reports having received ("…:tlsv13 alert certificate required"): how encrypted TLS 1.3 alerts reach us.</summary>
    private static TlsAlert? OpenSslAlert(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (ReceivedAlert().Match(e.Message) is { Success: true } match && TlsAlert.FromOpenSslName(match.Groups[1].Value) is { } alert)
            {
                return alert;
            }
        }
        return null;
    }

    [GeneratedRegex(@"(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+)")]
    private static partial Regex ReceivedAlert();

    private static bool IsEndOfStream(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        || Find<HttpIOException>(e) is { HttpRequestError: HttpRequestError.ResponseEnded }
        || Find<IOException>(e) is not null;

    /// <summary>The first exception of type <typeparamref name="T"/> in the chain of inner exceptions.</summary>
    internal static T? Find<T>(Exception? e) where T : Exception
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

    /// <summary>
    /// The deepest exception's message: runtime messages about sockets and TLS carry no request data, but some quote
    /// what the server sent (an invalid header line, whole): quoted like any party's text, escaped and capped.
    /// </summary>
    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e is SocketException s ? SocketErrors.Describe(s.SocketErrorCode) : LogText.Quote(e.Message.TrimEnd('.'));
    }
}
