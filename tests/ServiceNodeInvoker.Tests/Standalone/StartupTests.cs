using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Standalone;

/// <summary>Cold start: the start-up timeline the coldstart benchmark reads, and the warm-up that builds the first call's transport early.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task The_timeline_marks_each_phase_in_order_when_asked_and_says_nothing_otherwise()
    {
        var marked = await StandaloneProcess.RunAsync(new Dictionary<string, string> { [Primitives.StartupTimeline.Variable] = "1" });
        Assert.True(marked.Listening, marked.Error);
        var phases = marked.Error.Split('\n').Select(l => l.Trim().Split(' ')).Where(p => p is ["startup-timeline", _, _, _])
            .ToDictionary(p => p[1], p => double.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(phases.ContainsKey("main") && phases.ContainsKey("configure") && phases.ContainsKey("host-built"), marked.Error);
        Assert.True(phases["main"] > 0 && phases["main"] < phases["configure"] && phases["configure"] < phases["host-built"], marked.Error);
        // Each line also says how much the JIT compiled so far (what ReadyToRun did not cover): jit=<methods>/<ms>.
        var jit = marked.Error.Split('\n').Select(l => l.Trim().Split(' ')).Single(p => p is ["startup-timeline", "host-built", _, _])[3];
        Assert.Matches(@"^jit=\d+/\d+$", jit);

        var quiet = await StandaloneProcess.RunAsync(new Dictionary<string, string>());
        Assert.True(quiet.Listening, quiet.Error);
        Assert.DoesNotContain("startup-timeline", quiet.Error + quiet.Output);
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
