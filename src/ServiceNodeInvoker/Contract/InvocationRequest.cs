namespace ServiceNodeInvoker.Contract;

/// <summary>How the backend's answer goes back to the caller.</summary>
internal enum ResponseMode
{
    /// <summary>A JSON envelope (the invocation request's <c>"response": "envelope"</c>, the default).</summary>
    Envelope,

    /// <summary>The backend's status, headers and body as they are (<c>"response": "passthrough"</c>).</summary>
    Passthrough,

    /// <summary>Forward mode: passthrough, answering the caller's own request (its HEAD gets the backend's Content-Length).</summary>
    Forward,
}

/// <summary>A body to send to the backend, with the content type used when the caller sets none.</summary>
internal sealed record RequestBody(ReadOnlyMemory<byte> Content, string DefaultContentType);

/// <summary>A validated invocation request (the contract's POST /api/invoke body).</summary>
internal sealed class InvocationRequest
{
    public string? Profile { get; init; }
    public required HttpMethod Method { get; init; }
    public required Uri Url { get; init; }
    public IReadOnlyList<KeyValuePair<string, string[]>> Headers { get; init; } = [];
    public RequestBody? Body { get; init; }

    /// <summary>Forward mode: the caller's body, streamed as it arrives (never buffered). Exclusive with <see cref="Body"/>.</summary>
    public HttpContent? StreamedBody { get; init; }
    public TimeSpan? Timeout { get; init; }
    public ResponseMode Response { get; init; } = ResponseMode.Envelope;
}

/// <summary>The HTTP methods an invocation (and forward mode) may use: the one list.</summary>
internal static class InvocationMethods
{
    private static readonly Dictionary<string, HttpMethod> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["GET"] = HttpMethod.Get, ["HEAD"] = HttpMethod.Head, ["POST"] = HttpMethod.Post, ["PUT"] = HttpMethod.Put,
        ["PATCH"] = HttpMethod.Patch, ["DELETE"] = HttpMethod.Delete, ["OPTIONS"] = HttpMethod.Options,
    };

    /// <summary>GET HEAD POST PUT PATCH DELETE OPTIONS.</summary>
    public static readonly string[] Names = [.. ByName.Keys];

    public static bool TryParse(string name, out HttpMethod method) => ByName.TryGetValue(name, out method!);
}
