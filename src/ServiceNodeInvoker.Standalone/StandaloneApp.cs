using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using ServiceNodeInvoker.Standalone.Logging;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Probe;

namespace ServiceNodeInvoker.Standalone;

/// <summary>The standalone host: the library's endpoints on plain ASP.NET Core, with API keys checked like the Functions host does.</summary>
public static partial class StandaloneApp
{
    /// <summary>Print every trace to the console too (off by default: about 50 lines per request).</summary>
    public const string ConsoleTelemetrySwitch = "--console-telemetry";

    /// <param name="consoleTelemetry">Print traces to the console too (also asked for with <see cref="ConsoleTelemetrySwitch"/>).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, bool consoleTelemetry = false)
    {
        consoleTelemetry |= args.Contains(ConsoleTelemetrySwitch);
        var builder = WebApplication.CreateSlimBuilder(args.Where(a => a != ConsoleTelemetrySwitch).ToArray());
        // ASP.NET Core's request logs print full URLs, which may carry a `code` key: keep them quiet.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // The host's "failed to start" report is a stack trace; Program prints the reason in plain lines instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // Every line carries the trace id, so a log line leads to its trace.
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' "; o.UseUtcTimestamp = true; o.IncludeScopes = true; });
        // The same formatter and lines, written in batches instead of a wake-up and a write(2) per line.
        foreach (var stock in builder.Services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToArray())
        {
            builder.Services.Remove(stock);
        }
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, BatchedConsoleLoggerProvider>());
        // Kestrel:Endpoints from configuration, HTTPS included (the slim builder leaves HTTPS out).
        builder.WebHost.UseKestrelHttpsConfiguration();
        // Kestrel:* is read once, at start-up: a restart applies it (docs/contract.md). Kestrel's own reload would rebind
        // listeners on a settings save without the endpoint chains read below, and unbind them while the file is replaced.
        builder.WebHost.ConfigureKestrel((context, kestrel) => kestrel.Configure(context.Configuration.GetSection("Kestrel"), reloadOnChange: false));
        configure?.Invoke(builder);
        builder.Services.AddServiceNodeInvoker(builder.Configuration, InvokerHostKind.Standalone, consoleTelemetry);
        var chains = ServerCertificateChains.FromConfiguration(builder.Configuration, builder.Environment.ContentRootPath);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            // The endpoint certificate's intermediates go out with it (Kestrel sends only a PFX's leaf).
            https.OnAuthenticate = (_, ssl) => chains.Apply(ssl);
            // Caller certificates are requested, never required at the TLS layer (health must work without
            // one), and validated by CallerCertificates against the configured caller CA, not the system store.
            // Read through the validated options: this runs when the server starts, after validation.
            if (kestrel.ApplicationServices.GetRequiredService<InvokerApi>().RequestsCallerCertificates)
            {
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.ClientCertificateValidation = InvokerApi.AcceptCallerCertificate; // and the intermediates sent with it
            }
        }));

        var app = builder.Build();
        // A known route called with a method it does not take: a problem reply naming the methods it does, not an empty 405.
        // Routing has picked its endpoint by now: only the framework's 405 endpoint is wrapped, every other request passes
        // straight to its own (a status-code-pages middleware awaited every request to look at its status afterwards).
        app.Use(static (context, next) =>
            context.GetEndpoint()?.DisplayName == MethodRejectionEndpoint ? MethodNotAllowedAsync(context, next) : next(context));
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (!app.Services.GetRequiredService<InvokerApi>().HasApiKeys)
            {
                LogNoKeys(app.Logger);
            }
        });
        var api = app.MapGroup("/api");
        api.MapPost("/invoke", (HttpContext context, InvokerApi invoker) => invoker.InvokeAsync(context));
        // Forward mode: our URL in place of the backend's (the catch-all also matches /forward/{profile} alone).
        api.MapMethods("/forward/{profile}/{**path}", InvokerApi.ForwardMethods,
            (HttpContext context, string profile, InvokerApi invoker) => invoker.ForwardAsync(context, profile));
        api.MapGet("/health", (HttpContext context, InvokerApi invoker) => invoker.HealthAsync(context));
        api.MapPost("/profiles/{name}/probe", (HttpContext context, string name, InvokerApi invoker) => invoker.ProbeAsync(context, name));
        api.MapGet("/profiles", (HttpContext context, InvokerApi invoker) => invoker.ProfilesAsync(context));
        api.MapPost("/profiles/{name}/refresh", (HttpContext context, string name, InvokerApi invoker) => invoker.RefreshProfileAsync(context, name));
        api.MapPost("/configuration/reload", (HttpContext context, InvokerApi invoker) => invoker.ReloadConfigurationAsync(context));
        // Liveness for a load balancer in front of this host: no key, nothing but "up" (health needs a key and
        // answers 503 when one profile is broken, which must not take the instance out of rotation).
        api.MapGet("/live", () => Results.Json(new { status = "up" }));
        return app;
    }

    /// <summary>The display name of the endpoint ASP.NET Core routing selects for a known path and an unknown method.</summary>
    private const string MethodRejectionEndpoint = "405 HTTP Method Not Supported";

    private static async Task MethodNotAllowedAsync(HttpContext context, RequestDelegate next)
    {
        await next(context); // the framework's 405: its status and the Allow header naming the route's methods
        if (!context.Response.HasStarted && context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            await InvokerApi.MethodNotAllowed(context).ExecuteAsync(context);
        }
    }

    [LoggerMessage(4001, LogLevel.Warning, "No API keys are configured under Invoker:Callers:ApiKeys: every call will get 401.")]
    private static partial void LogNoKeys(ILogger logger);
}
