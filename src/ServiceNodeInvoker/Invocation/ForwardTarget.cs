using ServiceNodeInvoker.Contract;
using System.Buffers;
using System.Text;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Forward mode's backend URL: the profile's BaseUrl + the rest of the caller's path + its query, from
/// the request target exactly as the caller sent it. The rest can never leave the base path: a dot
/// segment (<c>..</c>, <c>%2e%2e</c>, <c>..;</c>, <c>．．</c>…), an encoded slash or backslash, an empty segment,
/// a control character, an encoded '%', bad percent-encoding or invalid UTF-8 is refused (400), never normalised into a
/// way out. What passes is sent as written (no re-encoding, no canonicalisation), minus the <c>code</c>
/// query parameter (the Functions key).
/// </summary>
internal static class ForwardTarget
{
    public const string Prefix = "/api/forward/";

    // RFC 3986 pchar without '%' (checked separately): unreserved, sub-delims, ':' and '@'.
    private static readonly SearchValues<char> PathChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@");

    // A query may also hold '/' and '?'.
    private static readonly SearchValues<char> QueryChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?");

    /// <summary>The function key's query parameter on Azure: never sent on.</summary>
    public const string KeyParameter = "code";

    /// <param name="rawTarget">The request target as received (<c>/api/forward/pay/orders/1?x=1</c>).</param>
    /// <param name="profile">The profile named by the route, which the target's profile segment must spell.</param>
    public static Uri Build(Uri baseUrl, string rawTarget, string profile)
    {
        if (!rawTarget.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            throw Refused("The request target is not of the form /api/forward/<profile>/<path>.");
        }
        var queryStart = rawTarget.IndexOf('?');
        var path = queryStart < 0 ? rawTarget[Prefix.Length..] : rawTarget[Prefix.Length..queryStart];
        var query = queryStart < 0 ? null : rawTarget[(queryStart + 1)..];
        var slash = path.IndexOf('/');
        var profileSegment = slash < 0 ? path : path[..slash];
        if (!string.Equals(Decode(profileSegment), profile, StringComparison.OrdinalIgnoreCase))
        {
            throw Refused("The profile segment of the path is not the profile's name as written.");
        }
        var rest = slash < 0 ? "" : path[slash..]; // "" or "/…"
        CheckRest(rest);
        // The base's parts are read once each (Uri builds a new string on every read of them); this runs on every forward call.
        var baseAuthority = baseUrl.GetLeftPart(UriPartial.Authority);
        var baseAbsolutePath = baseUrl.AbsolutePath;
        var basePath = baseAbsolutePath.TrimEnd('/');
        var kept = Query(query);
        var built = rest.Length == 0
            ? string.Concat(baseAuthority, baseAbsolutePath, kept is { Length: > 0 } ? "?" : "", kept)
            : string.Concat(baseAuthority, basePath, rest, kept is { Length: > 0 } ? "?" + kept : "");
        var url = new Uri(built, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        // What was built stays on the base's origin and under its path, whatever the parts held.
        var absolutePath = url.AbsolutePath;
        if (!url.GetLeftPart(UriPartial.Authority).Equals(baseAuthority, StringComparison.OrdinalIgnoreCase)
            || !(absolutePath == baseAbsolutePath
                 || (absolutePath.StartsWith(basePath, StringComparison.Ordinal) && absolutePath.Length > basePath.Length && absolutePath[basePath.Length] == '/')))
        {
            throw Refused("The path would leave the profile's BaseUrl.");
        }
        return url;
    }

    private static void CheckRest(string rest)
    {
        if (rest.Length == 0)
        {
            return;
        }
        // Segment by segment in place: only a segment with a percent escape is decoded into a string of its own.
        var segments = rest.AsSpan(1);
        var count = segments.Count('/') + 1;
        var i = 0;
        foreach (var range in segments.Split('/'))
        {
            var raw = segments[range];
            var last = ++i == count;
            if (raw.IsEmpty)
            {
                if (last)
                {
                    continue; // a trailing slash
                }
                throw Refused("The path has an empty segment (//).");
            }
            foreach (var c in raw)
            {
                if (c != '%' && !PathChars.Contains(c))
                {
                    throw Refused("The path holds a character that must be percent-encoded (or a backslash).");
                }
            }
            if (raw.IndexOf('%') < 0)
            {
                // Nothing encoded: path characters only, so no slash, backslash, percent sign or control character.
                if (IsDotSegment(raw))
                {
                    throw Refused("The path holds a dot segment (. or ..), plain, encoded or disguised.");
                }
                continue;
            }
            var decoded = Decode(raw.ToString());
            if (decoded.AsSpan().IndexOfAny('/', '\\') >= 0)
            {
                throw Refused("The path holds an encoded slash or backslash.");
            }
            if (decoded.Contains('%'))
            {
                // %25: a backend that decodes twice would see what the first decoding hid (%252e%252e → ..).
                throw Refused("The path holds an encoded percent sign (%25).");
            }
            foreach (var c in decoded)
            {
                if (char.IsControl(c))
                {
                    throw Refused("The path holds an encoded control character.");
                }
            }
            if (IsDotSegment(decoded))
            {
                throw Refused("The path holds a dot segment (. or ..), plain, encoded or disguised.");
            }
        }
    }

    /// <summary>
    /// "." and "..", and what some servers read as them: "..;x" (Tomcat's path parameters), "..." and ". ."
    /// (IIS trims trailing dots and spaces), and dot look-alikes that Unicode normalisation folds into '.'
    /// (full-width, small, one-dot leader, half-width ideographic). Listed, not normalised: the host runs
    /// with invariant globalization.
    /// </summary>
    private static bool IsDotSegment(ReadOnlySpan<char> segment)
    {
        var semicolon = segment.IndexOf(';');
        var name = semicolon < 0 ? segment : segment[..semicolon];
        return name.Length > 0 && name.IndexOfAnyExcept(DotLike) < 0;
    }

    private static readonly SearchValues<char> DotLike = SearchValues.Create(". \u2024\uFE52\uFF0E\uFF61\u3002");

    /// <summary>The query as sent, without the key parameter; characters outside RFC 3986's query set are refused.</summary>
    private static string? Query(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return null;
        }
        foreach (var c in query)
        {
            if (c != '%' && !QueryChars.Contains(c))
            {
                throw Refused("The query holds a character that must be percent-encoded.", "query");
            }
        }
        var kept = new List<string>();
        foreach (var part in query.Split('&'))
        {
            var equals = part.IndexOf('=');
            var name = Decode(equals < 0 ? part : part[..equals], "query", plusIsSpace: true);
            if (!name.Equals(KeyParameter, StringComparison.Ordinal))
            {
                kept.Add(part);
            }
        }
        return string.Join('&', kept);
    }

    /// <summary>Strict percent-decoding to UTF-8: a bad escape or invalid UTF-8 is refused.</summary>
    private static string Decode(string raw, string field = "path", bool plusIsSpace = false)
    {
        if (raw.IndexOf('%') < 0 && !(plusIsSpace && raw.Contains('+')))
        {
            return raw;
        }
        var bytes = new List<byte>(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length || !Uri.IsHexDigit(raw[i + 1]) || !Uri.IsHexDigit(raw[i + 2]))
                {
                    throw Refused($"The {field} holds a '%' that is not followed by two hex digits.", field);
                }
                bytes.Add((byte)Convert.ToInt32(raw.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c > 0x7F)
            {
                throw Refused($"The {field} holds a character that must be percent-encoded.", field);
            }
            else
            {
                bytes.Add(plusIsSpace && c == '+' ? (byte)' ' : (byte)c);
            }
        }
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw Refused($"The {field} decodes to invalid UTF-8 (an overlong or broken sequence).", field);
        }
    }

    private static InvokerException Refused(string why, string field = "path") => InvokerException.Invalid(field, why);
}
