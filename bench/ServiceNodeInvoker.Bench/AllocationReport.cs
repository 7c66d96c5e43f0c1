using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// What a traced window allocated, from the GC's allocation samples (<c>GCAllocationTick</c>: one event per ~100 KB a heap
/// allocates, naming the type of the object that crossed the mark, with its stack): bytes per request by type, by the
/// innermost frame of our own code on the stack, and by every frame on it (inclusive). Sampled, so a type or frame below
/// a few hundred bytes per request is noise.
/// </summary>
public static class AllocationReport
{
    public static void Print(string nettrace, double requests, int top, Action<string> print)
    {
        var etlx = TraceLog.CreateFromEventPipeDataFile(nettrace);
        using var log = new TraceLog(etlx);
        var byType = new Dictionary<string, long>();
        var byOurFrame = new Dictionary<string, long>();
        var inclusive = new Dictionary<string, long>();
        long total = 0;
        foreach (var data in log.Events)
        {
            if (data is not GCAllocationTickTraceData tick) { continue; }
            var amount = tick.AllocationAmount64;
            total += amount;
            Add(byType, tick.TypeName ?? "?", amount);
            string? ours = null;
            var seen = new HashSet<string>();
            for (var frame = data.CallStack(); frame is not null; frame = frame.Caller)
            {
                var name = frame.CodeAddress.FullMethodName;
                if (string.IsNullOrEmpty(name)) { continue; }
                ours ??= name.StartsWith("ServiceNodeInvoker.", StringComparison.Ordinal) ? name : null;
                if (seen.Add(name)) { Add(inclusive, name, amount); }
            }
            Add(byOurFrame, ours ?? "(no frame of ours on the stack)", amount);
        }
        print(string.Create(CultureInfo.InvariantCulture,
            $"- allocation samples: {total / 1024.0 / requests:0.00} KiB per request ({total / 1048576.0:0} MiB over {requests:0} requests)"));
        void Table(string title, Dictionary<string, long> values, int count)
        {
            print("");
            print($"| {title} | bytes / request | share |");
            print("|---|---|---|");
            foreach (var (key, value) in values.OrderByDescending(p => p.Value).Take(count))
            {
                print(string.Create(CultureInfo.InvariantCulture, $"| {key.Replace("|", "\\|", StringComparison.Ordinal)} | {value / requests:0} | {100.0 * value / total:0.0} % |"));
            }
        }
        Table("type", byType, top);
        Table("innermost frame of ours", byOurFrame, top);
        Table("frame (inclusive)", new Dictionary<string, long>(inclusive.Where(p => !Plumbing(p.Key))), top * 2);
    }

    private static bool Plumbing(string frame) =>
        frame.StartsWith("System.Threading.", StringComparison.Ordinal) || frame.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal);

    private static void Add(Dictionary<string, long> values, string key, long amount) =>
        values[key] = values.GetValueOrDefault(key) + amount;
}
