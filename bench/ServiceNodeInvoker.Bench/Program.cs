using BenchmarkDotNet.Running;
using ServiceNodeInvoker.Bench;

// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- load [--seconds N]   the side-by-side table
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- micro                BenchmarkDotNet allocations
// dotnet run -c Release --project bench/ServiceNodeInvoker.Bench -- budget [--seconds N] 64 callers × near-10 MiB envelopes: host RSS vs the budget
if (args.FirstOrDefault() == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(InProcessBenchmarks).Assembly).Run(args[1..].Length > 0 ? args[1..] : ["--filter", "*"]);
    return;
}

if (args.FirstOrDefault() == "loop")
{
    // For a profiler: envelope invocations in a loop (dotnet-trace collect -- dotnet ServiceNodeInvoker.Bench.dll loop).
    var bench = new InProcessBenchmarks();
    bench.Setup();
    var until = DateTime.UtcNow.AddSeconds(10);
    var count = 0;
    while (DateTime.UtcNow < until) { await bench.EnvelopeInvocation(); count++; }
    Console.WriteLine($"{count} envelope invocations in 10 s");
    bench.Cleanup();
    return;
}
var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(double.Parse).FirstOrDefault(3);
if (args.FirstOrDefault() == "budget")
{
    await BudgetBenchmark.RunAsync(TimeSpan.FromSeconds(args.Contains("--seconds") ? seconds : 20));
    return;
}
// --quick: direct, invoker and YARP at 1 KiB, c=1 and 16 only (for tuning)
await LoadHarness.RunAsync(TimeSpan.FromSeconds(seconds), args.Contains("--quick") ? "quick" : null);
