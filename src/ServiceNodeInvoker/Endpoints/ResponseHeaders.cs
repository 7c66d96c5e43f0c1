using System.Net.Http.Headers;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>The backend's end-to-end headers: hop-by-hop ones and those listed in Connection are dropped.</summary>
public static class ResponseHeaders
{
    public static IEnumerable<KeyValuePair<string, IEnumerable<string>>> EndToEnd(HttpResponseMessage response)
    {
        var connectionListed = HeaderRules.NamesListedInConnection(
            response.Headers.TryGetValues("Connection", out var c) ? c : null);
        IEnumerable<KeyValuePair<string, IEnumerable<string>>> all = response.Headers;
        all = all.Concat(response.Content.Headers);
        foreach (var header in all)
        {
            if (!HeaderRules.IsHopByHop(header.Key) && connectionListed?.Contains(header.Key) != true)
            {
                yield return header;
            }
        }
    }

    public static MediaTypeHeaderValue? ContentType(HttpResponseMessage response) => response.Content.Headers.ContentType;
}
