namespace ServiceNodeInvoker.Contract;

/// <summary>Caps on what a caller may send; exceeding any is a 400 naming the field and the limit.</summary>
/// <param name="MaxRequestBytes">Largest request body: the invocation request's JSON, or forward mode's streamed body.</param>
internal sealed record RequestLimits(int MaxUrlLength = 8192, int MaxHeaderCount = 64, int MaxHeaderBytes = 32 * 1024, int MaxRequestBytes = 8 * 1024 * 1024)
{
    public static readonly RequestLimits Default = new();
}
