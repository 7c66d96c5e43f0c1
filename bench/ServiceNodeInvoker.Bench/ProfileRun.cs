using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// Where the time goes: the standalone host in its own process under wrk load (1 KiB, c=16), sampled by
/// dotnet-trace (the repository's tool manifest: <c>dotnet tool restore</c>), with the GC's allocation
/// counter read by dotnet-counters over the same window. Prints the top frames by inclusive samples
/// and the bytes allocated per request.
/// </summary>
public static class ProfileRun
{
    /// <param name="baselineDll">Another build of the standalone host to profile instead of this one (to compare two builds' profiles).</param>
    /// <param name="allocations">Also trace the GC's allocation samples (with stacks) in a window of their own: types and allocating frames.</param>
    public static async Task RunAsync(string mode, TimeSpan duration, int top, string? baselineDll = null, bool allocations = false)
    {
        var repo = FindRepository();
        await ToolAsync(repo, "tool restore");
        using var pki = new BenchPki();
        await using var backend = await ExternalLoad.BackendNginx.StartAsync(pki, [1024]);
        await using var host = await ExternalLoad.ExternalProcess.InvokerAsync(pki, backend, mode, baselineDll: baselineDll);
        if (await host.VerifyAsync(backend, 1024) is { } problem)
        {
            Console.WriteLine($"{host.Name}: {problem}");
            return;
        }
        var script = host.WrkScript(backend, 1024);
        await WrkAsync(host, script, TimeSpan.FromSeconds(5)); // warm-up
        var trace = Path.Combine(AppContext.BaseDirectory, $"profile-{mode}{(baselineDll is null ? "" : "-baseline")}.nettrace");
        var counters = Path.Combine(pki.Directory, "counters.json");
        var seconds = (int)duration.TotalSeconds;
        var load = WrkAsync(host, script, duration + TimeSpan.FromSeconds(1));
        // CPU samples from the kernel (perf_events, root only): on-CPU time, not the wall-clock thread time of `collect`,
        // whose samples are mostly threads waiting.
        var tracing = ToolAsync(repo, $"dotnet-trace collect-linux -p {host.Pid} --profile cpu-sampling --duration 00:00:00:{seconds:00} -o \"{trace}\"");
        await tracing;
        var wrk = await load;
        // Allocations in a window of their own: a counters session in the traced window would show up in the profile.
        var counted = WrkAsync(host, script, TimeSpan.FromSeconds(seconds + 1));
        await ToolAsync(repo, $"dotnet-counters collect -p {host.Pid} --counters System.Runtime --refresh-interval 1 --format json -o \"{counters}\" --duration 00:00:00:{seconds:00}");
        var countedRps = double.Parse(System.Text.RegularExpressions.Regex.Match(await counted, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var rps = double.Parse(System.Text.RegularExpressions.Regex.Match(wrk, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Console.WriteLine($"# Profile: {host.Name}, 1 KiB, c=16, {seconds} s under wrk: {rps:0} req/s; trace in {trace}");
        File.Copy(counters, trace + ".counters.json", overwrite: true);
        if (AllocatedPerSecond(counters) is { } allocated)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"- allocated: {allocated / countedRps / 1024:0.0} KiB per request (GC total-allocated counter, whole process, {countedRps:0} req/s)"));
        }
        // Inclusive CPU by frame, without the frames every sample passes through (threads, the thread pool, async plumbing, unresolved native code).
        var report = await ToolAsync(repo, $"dotnet-trace report \"{trace}\" topN -n 600 --inclusive");
        var kept = report.Split('\n').Where(line => !Plumbing.IsMatch(line)).Take(top);
        Console.WriteLine(string.Join('\n', kept));
        if (allocations)
        {
            // The GC's allocation samples (one event per ~100 KB allocated, with the type and the stack) in a window of their own.
            var gcTrace = Path.ChangeExtension(trace, ".alloc.nettrace");
            var gcLoad = WrkAsync(host, script, duration + TimeSpan.FromSeconds(1));
            await ToolAsync(repo, $"dotnet-trace collect -p {host.Pid} --profile gc-verbose --duration 00:00:00:{seconds:00} -o \"{gcTrace}\"");
            var gcRps = double.Parse(System.Text.RegularExpressions.Regex.Match(await gcLoad, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
            AllocationReport.Print(gcTrace, gcRps * seconds, 40, Console.WriteLine);
        }
    }

    private static readonly System.Text.RegularExpressions.Regex Plumbing = new(
        @"Non-Activities|Threads\s|EventData|EventName|!\?|Missing Symbol|vmlinux!|libc\.so|libcoreclr|ld-linux|Threading\.|Tasks\.|CompilerServices\.|ExecutionContext|IThreadPoolWorkItem|AsyncReadWriteAdapter|ExecutionContextCallback|MoveNext\(class System\.Thread|__Canon\]\]::|IL_STUB",
        System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>Bytes per second from the runtime's total-allocated counter (first to last reading).</summary>
    private static double? AllocatedPerSecond(string file)
    {
        if (!File.Exists(file)) { return null; }
        var text = File.ReadAllText(file).TrimEnd().TrimEnd(',');
        if (!text.EndsWith("]}", StringComparison.Ordinal)) { text += "]}"; } // dotnet-counters may stop before closing its document
        try
        {
            using var json = JsonDocument.Parse(text);
            var readings = json.RootElement.GetProperty("Events").EnumerateArray()
                .Where(e => e.GetProperty("name").GetString() is { } n && n.StartsWith("dotnet.gc.heap.total_allocated", StringComparison.Ordinal))
                .Select(e => (Time: DateTime.Parse(e.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture), Value: e.GetProperty("value").GetDouble()))
                .ToArray();
            if (readings.Length < 2) { return null; }
            // A counter's value is the rate over the refresh interval (bytes per second).
            return readings.Skip(1).Average(r => r.Value);
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            Console.WriteLine($"(the allocation counter could not be read from {file}: {e.Message})");
            return null;
        }
    }

    private static async Task<string> WrkAsync(ExternalLoad.ExternalProcess host, string script, TimeSpan duration)
    {
        using var process = Process.Start(new ProcessStartInfo(ExternalLoad.Wrk,
            ["-t2", "-c16", $"-d{(int)duration.TotalSeconds}s", "--latency", "-s", script, host.BaseUrl]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    private static async Task<string> ToolAsync(string repo, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", arguments.StartsWith("tool", StringComparison.Ordinal) ? arguments : "tool run " + arguments)
        {
            WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) { Console.WriteLine($"dotnet {arguments}: exit {process.ExitCode}: {await error}"); }
        return await output;
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "dotnet-tools.json"))) { return dir.FullName; }
        }
        throw new InvalidOperationException("dotnet-tools.json not found above the bench binary: run from the repository.");
    }
}
