using System.Net.Http.Headers;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// The backend's end-to-end headers exactly as it sent them: read through the non-validated views,
/// so values are never parsed and re-serialized (a <c>Server: BaseHTTP/0.6 Python/3.11.7</c> stays one
/// value, <c>Cache-Control</c> keeps its order and spacing), and a header sent on several lines
/// (<c>Set-Cookie</c>) keeps its lines. Hop-by-hop headers and those listed in Connection are dropped.
/// </summary>
public static class ResponseHeaders
{
    public static IEnumerable<KeyValuePair<string, HeaderStringValues>> EndToEnd(HttpResponseMessage response)
    {
        var connectionListed = response.Headers.NonValidated.TryGetValues("Connection", out var connection)
            ? HeaderRules.NamesListedInConnection(connection)
            : null;
        foreach (var header in response.Headers.NonValidated)
        {
            if (!HeaderRules.IsHopByHop(header.Key) && connectionListed?.Contains(header.Key) != true)
            {
                yield return header;
            }
        }
        foreach (var header in response.Content.Headers.NonValidated)
        {
            if (!HeaderRules.IsHopByHop(header.Key) && connectionListed?.Contains(header.Key) != true)
            {
                yield return header;
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
    public static long? ContentLength(HttpResponseMessage response) =>
        response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var values) && values.Count > 0
        && long.TryParse(values.First().Split(',')[0].Trim(), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var length)
            ? length
            : null;
}
