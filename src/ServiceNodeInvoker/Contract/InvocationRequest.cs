namespace ServiceNodeInvoker.Contract;

public enum ResponseMode
{
    Envelope,
    Passthrough,
}

/// <summary>A body to send to the backend, with the content type used when the caller sets none.</summary>
public sealed record RequestBody(ReadOnlyMemory<byte> Content, string DefaultContentType);

/// <summary>A validated invocation request (the contract's POST /api/invoke body).</summary>
public sealed class InvocationRequest
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
