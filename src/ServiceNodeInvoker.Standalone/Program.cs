using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Standalone;
using ServiceNodeInvoker.Standalone.Demo;

args = CommandLine.TakeInvokedFrom(args); // `dotnet run` says which folder the command was typed in
// Bad configuration: the problems on stderr, one per line naming the setting, and exit code 1.
if (CommandLine.TryRun(args, Console.Out, Console.Error) is { } exitCode)
{
    return exitCode; // --help, --version, --check-config: nothing is served
}
return await StartupRefusal.RunAsync(async () =>
{
    if (args.Contains("--demo"))
    {
        return await DemoEnvironment.RunAsync(args);
    }
    var app = StandaloneApp.Build(args);
    await app.RunAsync();
    return 0;
});
