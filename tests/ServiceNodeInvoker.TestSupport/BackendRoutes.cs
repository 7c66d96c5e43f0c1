using System.Text;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>Backend routes the tests call through the invoker, and what the backend observed.</summary>
public sealed class BackendRoutes
{
    /// <summary>Completed when /slow sees its request cancelled (the invoker gave up and closed it).</summary>
    public TaskCompletionSource SlowCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>/stream waits on this after its first chunk: only a streaming invoker lets the test set it.</summary>
    public TaskCompletionSource FirstChunkSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static readonly byte[] Binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

    public void Map(WebApplication app)
    {
        app.MapGet("/headers", (HttpRequest r) =>
            Results.Json(r.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToArray())));
        app.MapGet("/target", (HttpContext c) => Results.Text(c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget));
        app.MapGet("/json", (HttpResponse r) =>
        {
            r.Headers["x-backend"] = "yes";
            return Results.Json(new { id = "ch_1", amount = 10 }, statusCode: 201);
        });
        app.MapGet("/text", () => Results.Text("héllo wörld", "text/plain; charset=utf-8"));
        app.MapGet("/not-json", () => Results.Text("{ not json", "application/json"));
        app.MapGet("/binary", () => Results.Bytes(Binary, "application/octet-stream"));
        app.MapGet("/empty", () => Results.NoContent());
        app.MapGet("/redirect", () => Results.Redirect("https://elsewhere.example/landing", permanent: false));
        app.MapGet("/error", () => Results.Problem("backend broke", statusCode: 500));
        app.MapGet("/slow", async (HttpContext context) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                SlowCancelled.TrySetResult();
            }
        });
        app.MapMethods("/large", ["GET", "HEAD"], async (HttpContext context, int size) =>
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = size;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await context.Response.Body.WriteAsync(new byte[size]);
            }
        });
        app.MapGet("/stream", async (HttpContext context, int size) =>
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers["x-stream"] = "1";
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'a');
            await context.Response.Body.WriteAsync(chunk);
            await context.Response.Body.FlushAsync();
            await FirstChunkSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
            for (var sent = chunk.Length; sent < size; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - sent)));
            }
        });
        app.MapPost("/body", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            return Results.Json(new
            {
                contentType = context.Request.ContentType,
                base64 = Convert.ToBase64String(buffer.ToArray()),
                text = Encoding.UTF8.GetString(buffer.ToArray()),
            });
        });
    }
}
