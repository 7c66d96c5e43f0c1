using System.Buffers;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Contract;

/// <summary>
/// The one header policy: which header names and values may cross the invoker, in either direction.
/// Requests: what a caller may set (<see cref="IsCallerForbidden"/>), what never goes on (hop-by-hop, and in
/// forward mode our own credentials and what front ends add about the caller), content headers placed on the
/// body. Responses: the backend's end-to-end headers exactly as it sent them (<see cref="ResponseEndToEnd"/>),
/// read through the non-validated views, so values are never parsed and re-serialized (a
/// <c>Server: BaseHTTP/0.6 Python/3.11.7</c> stays one value, <c>Cache-Control</c> keeps its order and
/// spacing), and a header sent on several lines (<c>Set-Cookie</c>) keeps its lines.
/// </summary>
internal static class HeaderPolicy
{
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    // RFC 9110 §7.6.1 plus the legacy proxy headers: they describe one connection, not the message.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization",
    };

    // The transport computes these itself; a caller-supplied value would desynchronise framing.
    private static readonly HashSet<string> CallerForbidden = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding",
    };

    private static readonly HashSet<string> ContentHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Encoding", "Content-Language", "Content-Disposition", "Content-Location",
        "Content-MD5", "Content-Range", "Expires", "Last-Modified", "Allow",
    };

    // Forward mode: our own credentials and controls, never sent on.
    private static readonly HashSet<string> OursOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        "x-functions-key", "X-ARR-ClientCert", "invoker-timeout", "Expect",
        // The Functions host's own, on the request it hands the worker.
        "x-ms-invocation-id",
        // W3C trace context: the invocation's own span is propagated in their place (a child of the caller's).
        "traceparent", "tracestate",
    };

    // What front ends (App Service, Front Door, API gateways, proxies) add about the caller.
    private static readonly HashSet<string> AboutTheCaller = new(StringComparer.OrdinalIgnoreCase)
    {
        "Forwarded", "X-Real-IP", "X-Client-IP", "Client-IP", "True-Client-IP", "X-Client-Port", "X-AppService-Proto",
        "X-Site-Deployment-Id", "Was-Default-Hostname", "Disguised-Host", "X-WAWS-Unencoded-URL", "X-FD-HealthProbe",
        "X-Cluster-Client-IP", "X-ProxyUser-Ip",
    };

    private static readonly string[] AboutTheCallerPrefixes =
        ["X-Forwarded-", "X-Original-", "X-ARR-", "X-Azure-", "X-MS-Client-Principal", "X-MS-Token-", "X-Envoy-"];

    /// <summary>Forward mode: a request header that never goes to the backend (hop-by-hop aside): Host, framing, our credentials.</summary>
    public static bool IsNotForwarded(string name) => CallerForbidden.Contains(name) || OursOnly.Contains(name);

    /// <summary>Forward mode: a header a front end adds about the caller; sent on only when the profile lists it.</summary>
    public static bool IsAboutTheCaller(string name) =>
        AboutTheCaller.Contains(name) || AboutTheCallerPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    public static bool IsValidName(string name) => name.Length > 0 && !name.AsSpan().ContainsAnyExcept(TokenChars);

    /// <summary>Visible ASCII, spaces and tabs only: no CR, LF, NUL, other controls or non-ASCII.</summary>
    public static bool IsValidValue(string value)
    {
        foreach (var c in value)
        {
            if ((c < 0x20 && c != '\t') || c >= 0x7F)
            {
                return false;
            }
        }
        return true;
    }

    public static bool IsHopByHop(string name) => HopByHop.Contains(name);

    public static bool IsCallerForbidden(string name) => CallerForbidden.Contains(name);

    public static bool IsContentHeader(string name) => ContentHeaders.Contains(name);

    /// <summary>Header names listed in Connection values: also hop-by-hop for this message (those hop-by-hop anyway left out; null when none is left).</summary>
    public static HashSet<string>? NamesListedInConnection(IEnumerable<string>? connectionValues)
    {
        if (connectionValues is null)
        {
            return null;
        }
        HashSet<string>? names = null;
        foreach (var value in connectionValues)
        {
            AddListed(value, ref names);
        }
        return names;
    }

    /// <summary>A response's Connection values (<see cref="NamesListedInConnection(IEnumerable{string})"/>), walked without boxing them.</summary>
    public static HashSet<string>? NamesListedInConnection(HeaderStringValues connectionValues)
    {
        HashSet<string>? names = null;
        foreach (var value in connectionValues)
        {
            AddListed(value, ref names);
        }
        return names;
    }

    private static void AddListed(string value, ref HashSet<string>? names)
    {
        // Walked in place: most answers say "Connection: keep-alive", which names nothing that is not hop-by-hop already,
        // so no set (and no split strings) is made for them — every caller drops hop-by-hop names first.
        foreach (var range in value.AsSpan().Split(','))
        {
            var part = value.AsSpan(range).Trim();
            if (part.IsEmpty || HopByHopLookup.Contains(part))
            {
                continue;
            }
            (names ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(part.ToString());
        }
    }

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> HopByHopLookup = HopByHop.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// Forward mode: the caller's request headers that go to the backend — not hop-by-hop, not listed in its
    /// Connection, not Host or framing, not our own credentials and controls, and what front ends add about the
    /// caller only when the profile lists it (<paramref name="callerHeadersToForward"/>).
    /// </summary>
    public static List<KeyValuePair<string, string[]>> ForwardedFromCaller(IHeaderDictionary headers, IReadOnlySet<string> callerHeadersToForward)
    {
        var kept = new List<KeyValuePair<string, string[]>>(headers.Count);
        var connectionListed = NamesListedInConnection(headers.Connection);
        foreach (var (name, values) in headers)
        {
            if (IsHopByHop(name) || IsNotForwarded(name) || connectionListed?.Contains(name) == true
                || (IsAboutTheCaller(name) && !callerHeadersToForward.Contains(name)))
            {
                continue;
            }
            kept.Add(new(name, values.ToArray()!));
        }
        return kept;
    }

    /// <summary>
    /// Puts a request's headers on the message to the backend: hop-by-hop ones and those its Connection lists are
    /// dropped; content headers go on the body (an empty one if there is none), the rest on the message, unvalidated.
    /// </summary>
    public static void ApplyToRequest(HttpRequestMessage message, IReadOnlyList<KeyValuePair<string, string[]>> headers)
    {
        HashSet<string>? connectionListed = null;
        foreach (var (name, values) in headers)
        {
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                connectionListed = NamesListedInConnection(values);
            }
        }
        foreach (var (name, values) in headers)
        {
            if (IsHopByHop(name) || connectionListed?.Contains(name) == true)
            {
                continue;
            }
            if (IsContentHeader(name))
            {
                message.Content ??= new ReadOnlyMemoryContent(ReadOnlyMemory<byte>.Empty);
                message.Content.Headers.Remove(name);
                message.Content.Headers.TryAddWithoutValidation(name, values);
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, values);
            }
        }
    }

    /// <summary>The backend's end-to-end headers, as sent: hop-by-hop ones and those listed in Connection dropped.</summary>
    /// <remarks>A struct walked with struct enumerators (no iterator object, no boxing): it runs on every relayed answer.</remarks>
    public static EndToEndHeaders ResponseEndToEnd(HttpResponseMessage response) =>
        new(response, response.Headers.NonValidated.TryGetValues("Connection", out var connection) ? NamesListedInConnection(connection) : null);

    /// <summary>A response's end-to-end headers (<see cref="ResponseEndToEnd"/>): its own, then its content's.</summary>
    public readonly struct EndToEndHeaders(HttpResponseMessage response, HashSet<string>? connectionListed)
        : IEnumerable<KeyValuePair<string, HeaderStringValues>>
    {
        public Enumerator GetEnumerator() => new(response, connectionListed);

        IEnumerator<KeyValuePair<string, HeaderStringValues>> IEnumerable<KeyValuePair<string, HeaderStringValues>>.GetEnumerator() => GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public struct Enumerator(HttpResponseMessage response, HashSet<string>? connectionListed) : IEnumerator<KeyValuePair<string, HeaderStringValues>>
        {
            private HttpHeadersNonValidated.Enumerator _headers = response.Headers.NonValidated.GetEnumerator();
            private HttpHeadersNonValidated.Enumerator _content = response.Content.Headers.NonValidated.GetEnumerator();
            private bool _inContent;

            public KeyValuePair<string, HeaderStringValues> Current { get; private set; }

            readonly object System.Collections.IEnumerator.Current => Current;

            public bool MoveNext()
            {
                if (!_inContent)
                {
                    while (_headers.MoveNext())
                    {
                        if (Kept(_headers.Current))
                        {
                            return true;
                        }
                    }
                    _inContent = true;
                }
                while (_content.MoveNext())
                {
                    if (Kept(_content.Current))
                    {
                        return true;
                    }
                }
                return false;
            }

            private bool Kept(KeyValuePair<string, HeaderStringValues> header)
            {
                if (IsHopByHop(header.Key) || connectionListed?.Contains(header.Key) == true)
                {
                    return false;
                }
                Current = header;
                return true;
            }

            public readonly void Reset() => throw new NotSupportedException();

            public readonly void Dispose()
            {
            }
        }
    }

    /// <summary>The content type parsed from the raw value (the validated view would rewrite the stored one).</summary>
    public static MediaTypeHeaderValue? ContentType(HttpResponseMessage response) =>
        response.Content.Headers.NonValidated.TryGetValues("Content-Type", out var values)
        && values.Count > 0 && MediaTypeHeaderValue.TryParse(values.ToString(), out var parsed)
            ? parsed
            : null;

    /// <summary>The body length the backend announced (checked by BackendResponse), from the raw value.</summary>
    public static long? ContentLength(HttpResponseMessage response)
    {
        if (!response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var values) || values.Count == 0)
        {
            return null;
        }
        // The first value up to a comma, trimmed, read in place (this runs on every answer).
        ReadOnlySpan<char> first = default;
        foreach (var value in values)
        {
            first = value.AsSpan();
            break;
        }
        var comma = first.IndexOf(',');
        return long.TryParse((comma >= 0 ? first[..comma] : first).Trim(), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var length)
            ? length
            : null;
    }
}
