using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using ServiceNodeInvoker;

// The Functions host is only an entry point: everything the app does lives in the library, where the
// standalone host and the tests exercise the same code.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddServiceNodeInvoker(builder.Configuration);
builder.Build().Run();
