using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServiceNodeInvoker;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Primitives;

// The Functions host is only an entry point: everything the app does lives in the library, where the
// standalone host and the tests exercise the same code. Bad configuration: the problems on stderr
// (the Functions host log), one per line naming the setting, and exit code 1.
return await StartupRefusal.RunAsync(async () =>
{
    var builder = FunctionsApplication.CreateBuilder(args);
    builder.ConfigureFunctionsWebApplication();
    builder.Services.AddServiceNodeInvoker(builder.Configuration, InvokerHostKind.Functions);
    // The worker's own telemetry: the host stops emitting on its behalf, and the cloud role is the site's.
    builder.Services.AddOpenTelemetry().UseFunctionsWorkerDefaults();
    var host = builder.Build();
    await host.RunAsync();
    return 0;
});
