namespace ServiceNodeInvoker.Contract;

/// <summary>Caps on what a caller may send; exceeding any is a 400 naming the field and the limit.</summary>
public sealed record RequestLimits(int MaxUrlLength = 8192, int MaxHeaderCount = 64, int MaxHeaderBytes = 32 * 1024)
{
    public static readonly RequestLimits Default = new();
}
