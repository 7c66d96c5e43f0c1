using System.Net;
using System.Net.Http.Headers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Tokens;

namespace ServiceNodeInvoker.Invocation;

/// <summary>The message to the backend: HTTP/1.1, the request's body and headers by the header policy.</summary>
internal static class BackendRequest
{
    /// <param name="token">The profile's access token, sent as <c>Authorization: Bearer</c> (the caller may send no Authorization of its own then).</param>
    public static HttpRequestMessage Build(InvocationRequest request, AccessToken? token = null)
    {
        var message = new HttpRequestMessage(request.Method, request.Url)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        if (request.Body is { } body)
        {
            message.Content = new ReadOnlyMemoryContent(body.Content);
        }
        else if (request.StreamedBody is { } streamed)
        {
            message.Content = streamed;
        }
        HeaderPolicy.ApplyToRequest(message, request.Headers);
        if (token is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationValue);
        }
        if (request.Body is { } withBody && message.Content!.Headers.ContentType is null
            && !request.Headers.Any(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(withBody.DefaultContentType);
        }
        return message;
    }
}
