using Microsoft.AspNetCore.Http.HttpResults;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Standalone;

/// <summary>The standalone host: the library's endpoints on plain ASP.NET Core, with API keys checked like the Functions host does.</summary>
public static partial class StandaloneApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // ASP.NET Core's request logs print full URLs, which may carry a `code` key: keep them quiet.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        configure?.Invoke(builder);
        builder.Services.AddServiceNodeInvoker(builder.Configuration);

        var app = builder.Build();
        var authenticator = app.Services.GetRequiredService<ApiKeyAuthenticator>();
        if (!authenticator.HasKeys)
        {
            LogNoKeys(app.Logger);
        }
        var api = app.MapGroup("/api").AddEndpointFilter((context, next) =>
            authenticator.Authenticate(context.HttpContext) is null
                ? ValueTask.FromResult<object?>(ProblemResponse.Create(ErrorCodes.Unauthenticated,
                    $"Send a valid API key in the '{ApiKeyAuthenticator.HeaderName}' header or the '{ApiKeyAuthenticator.QueryName}' query parameter.",
                    null, context.HttpContext))
                : next(context));
        api.MapPost("/invoke", (HttpContext context, InvokeEndpoint endpoint) => endpoint.HandleAsync(context));
        api.MapGet("/health", (HttpContext context, HealthEndpoint endpoint) => endpoint.Handle(context));
        return app;
    }

    [LoggerMessage(4001, LogLevel.Warning, "No API keys are configured under Invoker:Callers:ApiKeys: every call will get 401.")]
    private static partial void LogNoKeys(ILogger logger);
}
