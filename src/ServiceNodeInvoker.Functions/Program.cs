using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using ServiceNodeInvoker;
using ServiceNodeInvoker.Callers;

// The Functions host is only an entry point: everything the app does lives in the library, where the
// standalone host and the tests exercise the same code.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddServiceNodeInvoker(builder.Configuration, InvokerHostKind.Functions);
builder.Build().Run();
