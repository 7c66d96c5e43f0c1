using BenchmarkDotNet.Running;
using ServiceNodeInvoker.Bench;

// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- load [--seconds N]   the side-by-side table
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- micro                BenchmarkDotNet allocations
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- budget [--seconds N] 64 callers × near-10 MiB envelopes: host RSS vs the budget
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- token [--seconds N] [--rounds N]  a token profile vs the same calls without a token
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- storm [--instances 16] [--profiles 8] [--vault-rate 20] [--calls 2] [--forbidden]
//     [--token-profiles 0] [--token-rate 10] [--runs 1] [--host DIR (another build of the standalone host)] [--label NAME]
//     [--token-endpoint-in-hosts (a build from before issue 32, which wanted the token endpoint among the profile's Hosts)]
//     [--one-token-endpoint (every token profile uses one authorization server's endpoint, as profiles of one partner or tenant do)]   a scale-out storm
if (args.FirstOrDefault() == "storm")
{
    string? Arg(string name) => args.Contains(name) ? args[Array.IndexOf(args, name) + 1] : null;
    int Int(string name, int fallback) => Arg(name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
    await Storm.RunAsync(new Storm.Options(Int("--instances", 16), Int("--profiles", 8), Int("--vault-rate", 20), Int("--calls", 2),
        args.Contains("--forbidden"), Int("--token-profiles", 0), Int("--token-rate", 10), Arg("--host"), Int("--runs", 1),
        Arg("--label") ?? (Arg("--host") is null ? "this build" : "baseline"), args.Contains("--token-endpoint-in-hosts"), args.Contains("--one-token-endpoint")), Console.WriteLine);
    return;
}
if (args.FirstOrDefault() == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(InProcessBenchmarks).Assembly).Run(args[1..].Length > 0 ? args[1..] : ["--filter", "*"]);
    return;
}

if (args.FirstOrDefault() == "yarp-host")
{
    await YarpHost.RunAsync(args[1..]); // the external-load mode's YARP process
    return;
}

if (args.FirstOrDefault() == "loop")
{
    // For a profiler: envelope invocations in a loop (dotnet-trace collect -- dotnet ServiceNodeInvoker.Bench.dll loop).
    var bench = new InProcessBenchmarks();
    bench.Setup();
    var until = DateTime.UtcNow.AddSeconds(args.Contains("--seconds") ? double.Parse(args[Array.IndexOf(args, "--seconds") + 1], System.Globalization.CultureInfo.InvariantCulture) : 10);
    var count = 0;
    while (DateTime.UtcNow < until) { await bench.EnvelopeInvocation(); count++; }
    Console.WriteLine($"{count} envelope invocations");
    bench.Cleanup();
    return;
}
var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(double.Parse).FirstOrDefault(3);
if (args.FirstOrDefault() == "token")
{
    // token [--seconds N] [--rounds N]: steady-state calls to a profile with a token source vs the same calls without one
    await TokenBenchmark.RunAsync(TimeSpan.FromSeconds(args.Contains("--seconds") ? seconds : 10),
        args.Contains("--rounds") ? int.Parse(args[Array.IndexOf(args, "--rounds") + 1], System.Globalization.CultureInfo.InvariantCulture) : 5, 16, Console.WriteLine);
    return;
}
if (args.FirstOrDefault() == "budget")
{
    await BudgetBenchmark.RunAsync(TimeSpan.FromSeconds(args.Contains("--seconds") ? seconds : 20));
    return;
}
var quick = args.Contains("--quick");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var rounds = args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(quick ? 1 : 3);
// --concurrency 16[,64]: the connection counts measured (both by default)
int[] concurrencies = args.Contains("--concurrency")
    ? args[Array.IndexOf(args, "--concurrency") + 1].Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
    : [16, 64];
var external = new ExternalLoad.Options(TimeSpan.FromSeconds(args.Contains("--seconds") ? seconds : 8), rounds, concurrencies,
    quick ? [1024] : [1024, 64 * 1024], only, args.Select((a, i) => (a, i)).Where(p => p.a == "--variant").Select(p => args[p.i + 1]).ToList(),
    args.Select((a, i) => (a, i)).Where(p => p.a == "--baseline").Select(p => args[p.i + 1]).ToList()); // --baseline DIR[=LABEL], repeatable
if (args.FirstOrDefault() == "profile")
{
    // dotnet-trace CPU samples and allocations of the standalone host under wrk (passthrough unless named):
    // profile [passthrough|envelope|forward] [--seconds N] [--baseline DIR (another build's output folder)] [--allocations (types and allocating frames)]
    await ProfileRun.RunAsync(args.Skip(1).FirstOrDefault(a => a is "passthrough" or "envelope" or "forward") ?? "passthrough",
        TimeSpan.FromSeconds(args.Contains("--seconds") ? seconds : 10), 100,
        args.Contains("--baseline") ? Path.Combine(Path.GetFullPath(args[Array.IndexOf(args, "--baseline") + 1]), "ServiceNodeInvoker.Standalone.dll") : null,
        args.Contains("--allocations"));
    return;
}
if (args.FirstOrDefault() == "coldstart")
{
    // Launch → first mTLS 200 of published builds of the standalone host, interleaved (see docs/performance.md):
    // coldstart [--runs N] [--baseline DIR (a published build to compare with)] [--variant NAME:KEY=VALUE ...] [--keyvault]
    //           [--default-only (only the build `dotnet publish` makes: against a --baseline, one pair of builds)]
    var repository = args.Contains("--repo") ? args[Array.IndexOf(args, "--repo") + 1] : FindRepository();
    var work = Directory.CreateTempSubdirectory("sni-coldstart-").FullName;
    var variants = new List<ColdStart.Variant>();
    if (args.Contains("--baseline"))
    {
        variants.Add(new("before (baseline build)", args[Array.IndexOf(args, "--baseline") + 1], new Dictionary<string, string>()));
    }
    if (args.Contains("--functions"))
    {
        // The Functions app: --baseline names a repository checkout (its Functions app is published the same way).
        var extra = Environment.GetEnvironmentVariable("EXTRA_NUGET_SOURCE");
        var functions = new List<ColdStart.Variant>();
        if (args.Contains("--baseline-repo"))
        {
            functions.Add(new("before: publish", await ColdStart.PublishFunctionsAsync(args[Array.IndexOf(args, "--baseline-repo") + 1],
                Path.Combine(work, "before"), readyToRun: false, extra), new Dictionary<string, string>()));
        }
        functions.Add(new("publish", await ColdStart.PublishFunctionsAsync(repository, Path.Combine(work, "functions"), readyToRun: false, extra), new Dictionary<string, string>()));
        functions.Add(new("publish, ReadyToRun", await ColdStart.PublishFunctionsAsync(repository, Path.Combine(work, "functions-r2r"), readyToRun: true, extra,
            "--self-contained false -p:PublishReadyToRunComposite=false"), new Dictionary<string, string>()));
        functions.Add(new("publish, self-contained, composite ReadyToRun", await ColdStart.PublishFunctionsAsync(repository, Path.Combine(work, "functions-composite"),
            readyToRun: true, extra, "--self-contained true -p:PublishReadyToRunComposite=true"), new Dictionary<string, string>()));
        await ColdStart.RunFunctionsAsync(functions, args.Contains("--runs") ? int.Parse(args[Array.IndexOf(args, "--runs") + 1], System.Globalization.CultureInfo.InvariantCulture) : 10, Console.WriteLine);
        return;
    }
    var r2r = await ColdStart.PublishAsync(repository, Path.Combine(work, "publish-r2r"), readyToRun: true);
    var composite = r2r;
    if (!args.Contains("--default-only"))
    {
        var plain = await ColdStart.PublishAsync(repository, Path.Combine(work, "publish"), readyToRun: false);
        composite = await ColdStart.PublishAsync(repository, Path.Combine(work, "publish-composite"), readyToRun: true,
            "-p:SelfContained=true -p:PublishReadyToRunComposite=true");
        variants.Add(new("publish, no ReadyToRun", plain, new Dictionary<string, string>()));
    }
    variants.Add(new("publish (ReadyToRun, framework-dependent)", r2r, new Dictionary<string, string>()));
    if (!args.Contains("--default-only"))
    {
        variants.Add(new("publish, self-contained, composite ReadyToRun", composite, new Dictionary<string, string>()));
    }
    foreach (var variant in args.Select((a, i) => (a, i)).Where(p => p.a == "--variant").Select(p => args[p.i + 1]))
    {
        // NAME:KEY=VALUE[,KEY=VALUE] on the default (composite) build, e.g. "no TieredPGO:DOTNET_TieredPGO=0"
        var colon = variant.IndexOf(':');
        var environment = variant[(colon + 1)..].Split(',').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        variants.Add(new($"publish, {variant[..colon]}", composite, environment));
    }
    var runs = args.Contains("--runs") ? int.Parse(args[Array.IndexOf(args, "--runs") + 1], System.Globalization.CultureInfo.InvariantCulture) : 10;
    await ColdStart.RunAsync(variants, runs, Console.WriteLine, keyVault: args.Contains("--keyvault"));
    return;
}

static string FindRepository()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Functions.sln")))
        {
            return dir.FullName;
        }
    }
    throw new InvalidOperationException("the repository was not found above the harness (pass --repo DIR)");
}

if (args.FirstOrDefault() == "external")
{
    // wrk against each proxy in its own process (see docs/performance.md)
    await ExternalLoad.RunAsync(external, Console.WriteLine);
    return;
}
// load: the in-process table, then the external-load table from a new process of this harness, so nothing of the
// in-process run (its backend, threads, heaps) competes with the processes measured (--quick: 1 KiB, c=1 and 16
// in process; one round outside).
var results = await LoadHarness.RunAsync(TimeSpan.FromSeconds(seconds), quick ? "quick" : null);
var externalArgs = args.Skip(1).Where(a => a is not ("--seconds" or "--rounds") && !double.TryParse(a, System.Globalization.CultureInfo.InvariantCulture, out _)).ToList();
using (var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet",
    [System.IO.Path.Combine(AppContext.BaseDirectory, "ServiceNodeInvoker.Bench.dll"), "external", .. externalArgs, "--rounds", rounds.ToString(System.Globalization.CultureInfo.InvariantCulture)])
    { RedirectStandardOutput = true })!)
{
    var table = new System.Text.StringBuilder();
    while (await child.StandardOutput.ReadLineAsync() is { } line)
    {
        Console.WriteLine(line);
        if (!line.StartsWith("  round ", StringComparison.Ordinal)) { table.AppendLine(line); }
    }
    await child.WaitForExitAsync();
    results += "\n" + table;
}
var file = System.IO.Path.Combine(AppContext.BaseDirectory, "load-results.md");
await File.WriteAllTextAsync(file, results);
Console.WriteLine($"\n(written to {file})");
