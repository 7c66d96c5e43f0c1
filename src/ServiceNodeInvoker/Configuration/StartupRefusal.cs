using System.Reflection;
using Microsoft.Extensions.Options;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// How a host refuses to start: on bad configuration the problems, one per line, each naming its
/// setting; on an address already in use, that address. On standard error, with exit code 1 and no
/// stack trace: the lines say what to fix.
/// </summary>
public static class StartupRefusal
{
    /// <summary>The exit code of a refused start-up.</summary>
    public const int ExitCode = 1;

    /// <summary>The problems an exception carries when it is a configuration failure (else null).</summary>
    public static IReadOnlyList<string>? Problems(Exception exception)
    {
        switch (exception)
        {
            case OptionsValidationException options:
                return options.Failures.ToList();
            case AggregateException aggregate:
                var lines = aggregate.InnerExceptions.Select(Problems).ToList();
                return lines.All(l => l is not null) ? lines.SelectMany(l => l!).ToList() : null;
            case TargetInvocationException { InnerException: { } inner }:
                return Problems(inner);
            case InvalidOperationException { InnerException: { } inner } when inner is OptionsValidationException or AggregateException:
                return Problems(inner);
            default:
                return null;
        }
    }

    /// <summary>The address a listener could not bind, when that is why the start failed.</summary>
    public static string? AddressInUse(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException io && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                return io.Message.TrimEnd('.');
            }
        }
        return null;
    }

    /// <summary>Writes the refusal; true when <paramref name="exception"/> was one this class explains.</summary>
    public static bool TryReport(Exception exception, TextWriter error)
    {
        if (AddressInUse(exception) is { } address)
        {
            error.WriteLine($"The invoker did not start: {address}. Stop whatever listens there, or choose another address with --urls.");
            error.Flush();
            return true;
        }
        if (Problems(exception) is not { } problems)
        {
            return false;
        }
        error.WriteLine($"The invoker did not start: {problems.Count} configuration problem{(problems.Count == 1 ? "" : "s")}.");
        foreach (var problem in problems)
        {
            error.WriteLine($"  {problem}");
        }
        error.Flush();
        return true;
    }

    /// <summary>Runs a host; a configuration failure or a taken address at build or start is reported and gives exit code 1.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> run, TextWriter? error = null)
    {
        try
        {
            return await run();
        }
        catch (Exception e) when (Problems(e) is not null || AddressInUse(e) is not null)
        {
            TryReport(e, error ?? Console.Error);
            return ExitCode;
        }
    }
}
