using System.Net;
using System.Net.Http.Headers;
using ServiceNodeInvoker.Contract;

namespace ServiceNodeInvoker.Invocation;

/// <summary>The message to the backend: HTTP/1.1, the request's body and headers by the header policy.</summary>
internal static class BackendRequest
{
    /// <summary>The message for the request (the token step adds the profile's access token, when it has one).</summary>
    public static HttpRequestMessage Build(InvocationRequest request)
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
        if (request.Body is { } withBody && message.Content!.Headers.ContentType is null
            && !request.Headers.Any(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(withBody.DefaultContentType);
        }
        return message;
    }
}
