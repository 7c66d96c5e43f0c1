using ServiceNodeInvoker.Transport;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Answers no faithful relay can pass on (RFC 9112 §6.3: conflicting or invalid Content-Length is an
/// unrecoverable framing error; a 101 nobody asked for hands over a raw tunnel). They become 502
/// <c>invalid-backend-response</c> at once, in both response modes, and the connection is not reused
/// (the handler's drain size is 0: an unread body closes its connection).
/// </summary>
internal static class BackendResponse
{
    /// <summary>The backend's host:port, worked out only when a message names it.</summary>
    private readonly struct Target(Uri url)
    {
        public override string ToString() => HostKey.FromUri(url).ToString();
    }

    /// <summary>What is wrong with an answer; <paramref name="Unframed"/>: its connection must not be reused.</summary>
    public readonly record struct Problem(InvokerException Error, bool Unframed);

    /// <summary>
    /// Step 6 of the pipeline: the problem with the backend's answer, or null when it can be relayed — an answer
    /// that cannot be framed, a header a relaying mode cannot write, or our certificate refused in an HTTP page.
    /// </summary>
    /// <param name="relaysHeaders">The mode relays the backend's headers as headers (<see cref="InvocationMode.RelaysHeaders"/>).</param>
    /// <param name="flight">What the server sent during this connection's handshake, when this request opened it (TLS 1.2: the CAs it accepts).</param>
    /// <param name="accepted">The CAs the server named as accepted, as last seen (the probe).</param>
    public static async ValueTask<Problem?> ProblemAsync(HttpResponseMessage response, InvocationRequest request, bool relaysHeaders, TlsProfile profile,
        ProfileMaterial material, CancellationToken token, ServerFlight? flight = null, AcceptedIssuers.Seen? accepted = null)
    {
        if (Check(response, request.Url, profile) is { } invalid)
        {
            return new Problem(invalid, Unframed: true);
        }
        if (relaysHeaders && CheckRelayableHeaders(response, request.Url) is { } unrelayable)
        {
            return new Problem(unrelayable, Unframed: false);
        }
        if (!CertificateRefusal.MayBeStatus((int)response.StatusCode))
        {
            return null; // most answers: no content type parsed, no refusal looked for
        }
        return await RefusalAsync(response, profile, request, material, flight, accepted, token) is { } refused ? new Problem(refused, Unframed: false) : null;
    }

    /// <summary>The problem with the answer's framing, or null when it can be relayed.</summary>
    public static InvokerException? Check(HttpResponseMessage response, Uri url, TlsProfile profile)
    {
        var target = new Target(url); // named only when something is wrong
        if ((int)response.StatusCode == 101)
        {
            return Invalid($"{target} answered 101 Switching Protocols although no protocol upgrade was asked for (profile '{profile.Name}').");
        }
        if (response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var lengths))
        {
            long? first = null;
            foreach (var line in lengths)
            {
                foreach (var part in line.Split(','))
                {
                    var text = part.Trim(' ', '\t');
                    if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                    {
                        return Invalid($"{target} sent an invalid Content-Length ('{LogText.Quote(text, 32)}'): its answer cannot be framed.");
                    }
                    if (first is { } seen && seen != length)
                    {
                        return Invalid($"{target} sent conflicting Content-Length values ({seen} and {length}): its answer cannot be framed.");
                    }
                    first = length;
                }
            }
        }
        return null;
    }

    /// <summary>
    /// For replies that carry the backend's headers as headers (passthrough, forward): a header whose value
    /// holds a control character (other than tab) cannot be written in HTTP (RFC 9110 §5.5) — the server would
    /// fail mid-reply. The envelope carries headers as JSON strings and is not affected.
    /// </summary>
    public static InvokerException? CheckRelayableHeaders(HttpResponseMessage response, Uri url) =>
        // Both collections walked with their own struct enumerators (no LINQ: this runs on every relayed answer).
        Unrelayable(response.Headers.NonValidated, url) ?? Unrelayable(response.Content.Headers.NonValidated, url);

    private static InvokerException? Unrelayable(HttpHeadersNonValidated headers, Uri url)
    {
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                if (value.AsSpan().IndexOfAny(ControlCharacters) is var at and >= 0)
                {
                    return Invalid($"{new Target(url)} sent the header '{LogText.Quote(name, 32)}' with a control character (0x{(int)value[at]:X2}) in its value, " +
                        "which HTTP forbids: it cannot be passed on as a header. The envelope response mode carries it as JSON.");
                }
            }
        }
        return null;
    }

    /// <summary>What a header value cannot carry in HTTP: control characters other than tab, and DEL.</summary>
    private static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Where(c => c != '\t').Select(c => (char)c)) + "\x7F");

    /// <summary>
    /// A refusal of our certificate sent as an HTTP page after the handshake (nginx's 400s, IIS's 403.x),
    /// recognised by exact markers only (see <see cref="CertificateRefusal"/>). A small 400/403 HTML body is
    /// read into the response's own buffer to look, so it can still be relayed when it is the backend's own.
    /// </summary>
    private static async Task<InvokerException?> RefusalAsync(HttpResponseMessage response, TlsProfile profile, InvocationRequest request,
        ProfileMaterial material, ServerFlight? flight, AcceptedIssuers.Seen? accepted, CancellationToken token)
    {
        var status = (int)response.StatusCode;
        var mediaType = HeaderPolicy.ContentType(response)?.MediaType?.ToLowerInvariant();
        if (!CertificateRefusal.MayBe(status, mediaType) || request.Method == HttpMethod.Head
            || HeaderPolicy.ContentLength(response) is not (> 0 and <= CertificateRefusal.InspectBytes))
        {
            return null;
        }
        await response.Content.LoadIntoBufferAsync(CertificateRefusal.InspectBytes, token);
        var body = await response.Content.ReadAsByteArrayAsync(token);
        if (CertificateRefusal.Recognise(status, body) is not { } why)
        {
            return null;
        }
        var target = HostKey.FromUri(request.Url);
        var ours = material.Client is { } client
            ? $"our client certificate {LogText.Quote(client.Subject)} (issued by {LogText.Quote(client.Leaf.Issuer)})"
            : "no client certificate: the profile has none (set ClientCertificate)";
        var cause = material.Client is null ? FailureCauses.ClientCertificateMissing : FailureCauses.ClientCertificateRefused;
        return new Diagnosis(ErrorCodes.TlsHandshakeFailed, cause,
            $"{target} completed the TLS handshake and then answered {status} with its certificate-refusal page: {why}. " +
            $"We presented {ours} (profile '{profile.Name}')." +
            (material.Client is null ? "" : " " + FailureClassifier.RefusalHints(
                new FailureClassifier.Evidence(target, profile, PresentedClientCertificate: true, TimedOutAfter: null, Witness: null)
                {
                    Ours = material.Client,
                    Accepted = accepted,
                }, flight)))
            .ToException(null);
    }

    private static InvokerException Invalid(string message) => new(ErrorCodes.InvalidBackendResponse, message);
}
