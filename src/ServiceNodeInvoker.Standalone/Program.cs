using ServiceNodeInvoker.Standalone;
using ServiceNodeInvoker.Standalone.Demo;

if (args.Contains("--demo"))
{
    await using var demo = await DemoEnvironment.StartAsync(args);
    Console.WriteLine();
    Console.WriteLine("Service Node Invoker demo is running.");
    Console.WriteLine($"  invoker:      {demo.InvokerAddress}");
    Console.WriteLine($"  demo backend: {demo.Backend.BaseAddress} (requires a client certificate chaining to the demo root)");
    Console.WriteLine("Paste this to call the backend over mutual TLS through the invoker:");
    Console.WriteLine();
    Console.WriteLine(demo.CurlCommand);
    Console.WriteLine();
    Console.WriteLine("Press Ctrl+C to stop.");
    await demo.Invoker.WaitForShutdownAsync();
    return;
}

var app = StandaloneApp.Build(args);
await app.RunAsync();
