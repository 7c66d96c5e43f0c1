using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Invocation;

/// <summary>The invocation pipeline's log lines (event ids 2xxx for backend failures, 3xxx for replies).</summary>
internal static partial class InvocationLog
{
    [LoggerMessage(2002, LogLevel.Warning, "Invocation failed: profile {Profile} {Method} {Target} → {Code} after {DurationMs:F1} ms: {Reason}")]
    public static partial void Failed(ILogger logger, string profile, string method, string target, string code, double durationMs, string reason);

    [LoggerMessage(3001, LogLevel.Information, "Invoked profile {Profile} {Method} {Target} → {Status} in {DurationMs:F1} ms ({Mode}).")]
    public static partial void Completed(ILogger logger, string profile, string method, string target, int status, double durationMs, string mode);

    [LoggerMessage(3002, LogLevel.Warning, "Invocation refused: {Code} (field {Field}): {Reason}")]
    public static partial void Rejected(ILogger logger, string code, string field, string reason);

    [LoggerMessage(3003, LogLevel.Warning, "Passthrough for profile {Profile} cut short: {Reason}.")]
    public static partial void PassthroughCut(ILogger logger, string profile, string reason);

    [LoggerMessage(3004, LogLevel.Warning, "The invocation request's framing is broken ({Status}): {Reason}")]
    public static partial void BrokenRequest(ILogger logger, int status, string reason);
}
