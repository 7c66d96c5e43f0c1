using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>Many large envelopes at once stay within the buffered-response budget: the excess waits, then gets 503 busy.</summary>
public sealed class MemoryBudgetTests
{
    private const int BodySize = 1536 * 1024;
    private const long Budget = 16 * 1024 * 1024;

    [Fact]
    public async Task Envelopes_beyond_the_budget_get_503_busy_with_retry_after_and_the_budget_is_given_back()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        await using var backend = await TestPki.Instance.StartBackendAsync(app => app.MapGet("/big", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = BodySize;
            await context.Response.Body.WriteAsync(new byte[1024]);
            await context.Response.Body.FlushAsync();
            Interlocked.Increment(ref started);
            await gate.Task; // hold every body until the test lets go: their reservations stay taken
            await context.Response.Body.WriteAsync(new byte[BodySize - 1024]);
        }));
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:MaxBufferedResponseBytes"] = Budget.ToString();
        var fits = (int)(Budget / EnvelopeMode.Need(BodySize)); // the body and its envelope, in whole MiB: 3 here
        await using var host = await InvokerHost.StartAsync(settings);
        var budget = host.Services.GetRequiredService<ResponseBufferBudget>();

        var calls = Enumerable.Range(0, 8).Select(_ => host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}big" })).ToList();
        // `fits` reserve their share; the others cannot, and after their short wait get 503 (the gate holds the first ones).
        var refused = new List<HttpResponseMessage>();
        var pending = calls.ToList();
        while (refused.Count < 8 - fits)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            refused.Add(done.Result);
        }
        foreach (var response in refused)
        {
            var problem = await InvokerHost.AssertProblemAsync(response, 503, "busy");
            Assert.Equal("1", response.Headers.RetryAfter?.ToString());
            Assert.Contains("passthrough", problem.GetProperty("detail").GetString());
        }
        Assert.InRange(budget.InUse, fits * EnvelopeMode.Need(BodySize), budget.Capacity); // never over the budget

        gate.SetResult();
        var rest = (await Task.WhenAll(calls)).Except(refused).ToList();
        Assert.Equal(fits, rest.Count);
        Assert.True(fits >= 2);
        Assert.All(rest, r => Assert.Equal(200, (int)r.StatusCode));
        foreach (var response in rest.Concat(refused))
        {
            response.Dispose();
        }
        // The server releases an envelope's reservation once its last byte is written, which may be a moment after the
        // client has read that byte.
        await Poll.UntilAsync(() => budget.InUse == 0, "every reservation released");
        Assert.Equal(8, started);
    }
}
