using System.Diagnostics;

namespace ServiceNodeInvoker.Primitives;

/// <summary>
/// Cold-start phases, for the <c>coldstart</c> benchmark: with <c>INVOKER_STARTUP_TIMELINE=1</c> the first time each
/// phase is reached is written to stderr as <c>startup-timeline &lt;phase&gt; &lt;ms since process start&gt; jit=&lt;methods&gt;/&lt;ms&gt;</c>
/// (methods compiled by the JIT so far, and the time spent compiling them, over all threads: what ReadyToRun did not cover).
/// Off (the default) a mark costs one static read.
/// </summary>
public static class StartupTimeline
{
    /// <summary>The variable that turns the timeline on.</summary>
    public const string Variable = "INVOKER_STARTUP_TIMELINE";

    private static readonly bool Enabled = Environment.GetEnvironmentVariable(Variable) == "1";
    private static readonly HashSet<string> Seen = [];

    /// <summary>Records the first time <paramref name="phase"/> is reached.</summary>
    public static void Mark(string phase)
    {
        if (!Enabled)
        {
            return;
        }
        lock (Seen)
        {
            if (!Seen.Add(phase))
            {
                return;
            }
        }
        // The process's start as the kernel recorded it: the runtime's own start is part of what is measured.
        var sinceStart = DateTime.Now - Process.GetCurrentProcess().StartTime;
        Console.Error.WriteLine(FormattableString.Invariant(
            $"startup-timeline {phase} {sinceStart.TotalMilliseconds:0.0} jit={System.Runtime.JitInfo.GetCompiledMethodCount()}/{System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:0}"));
    }
}
