using System.Net.Http.Json;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Standalone;

/// <summary>Cold start: the start-up milestones the coldstart benchmark reads from the runtime's events, and the warm-up that builds the first call's transport early.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task A_start_up_is_timed_by_the_runtimes_own_events_from_launch_to_the_first_answer_with_nothing_in_the_host_asking_for_it()
    {
        await using var backend = await TestPki.Instance.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:Callers:ApiKeys:test-bot"] = ServiceNodeInvoker.Callers.ApiKeyAuthenticator.HashKey(InvokerHost.ApiKey);
        settings["Invoker:AllowLoopback"] = "true";
        var trace = new StartupTrace(Path.Combine(files.Directory, "startup.nettrace"));
        var environment = settings.Where(s => s.Value is not null)
            .ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        foreach (var (key, value) in trace.Environment)
        {
            environment[key] = value;
        }
        var launched = DateTime.UtcNow;

        var run = await StandaloneProcess.RunCallingAsync(environment, async address =>
        {
            using var client = new HttpClient { BaseAddress = address };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke")
            {
                Content = JsonContent.Create(new { method = "GET", url = $"{backend.BaseAddress}echo" }),
            };
            request.Headers.Add(ServiceNodeInvoker.Callers.ApiKeyAuthenticator.HeaderName, InvokerHost.ApiKey);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        Assert.Equal(0, run.ExitCode); // ended on its own: the trace is complete

        var at = trace.Read(launched, backend.Port);
        var described = string.Join(", ", at.OrderBy(m => m.Value).Select(m => $"{m.Key} {m.Value:0}"));
        // Each milestone, in the order a cold start reaches them: the runtime's, the generic host's, ASP.NET Core's, the
        // networking stack's and the invocation's own events, plus the invoker's start-up EventSource for the rest.
        string[] inOrder = ["runtime", "host-built", "options-validated", "listening", "first-request", "first-invocation",
            "first-backend-request", "first-connected", "first-handshake", "first-backend-answer", "first-answered"];
        Assert.All(inOrder.Concat(["certificates-loaded", "roots-loaded", "warm-transports"]), m => Assert.True(at.ContainsKey(m), $"{m} missing: {described}"));
        Assert.Equal(inOrder, inOrder.OrderBy(m => at[m]));
        Assert.True(at["runtime"] > 0 && at["first-answered"] < (DateTime.UtcNow - launched).TotalMilliseconds, described);
    }

    [Fact]
    public async Task The_first_calls_transport_is_built_before_the_call_without_connecting_to_the_backend()
    {
        await using var scenario = await Scenario.Standard().StartAsync();
        var (backend, host) = scenario;
        var pool = host.Services.GetRequiredService<TransportPool>();

        await Poll.UntilAsync(() => pool.CurrentFor("payments") is not null, "the warm-up to build the profile's transport");
        Assert.Equal(0, backend.Connections); // built, not connected: nothing reaches a backend before a request asks

        var warm = pool.CurrentFor("payments");
        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        Assert.Equal(200, reply.GetProperty("status").GetInt32());
        Assert.Same(warm, pool.CurrentFor("payments")); // the call used the transport the warm-up built
        Assert.Equal(1, backend.Connections);
    }
}
