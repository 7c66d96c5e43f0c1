using System.Diagnostics;
using System.Net.Sockets;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>Backends that are down, slow, or not ours to call.</summary>
public sealed class BackendFailureTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    [Fact]
    public async Task Connection_refused_gives_502_backend_unreachable()
    {
        var port = UnusedPort();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, port).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"https://localhost:{port}/echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.BackendUnreachable);
        Assert.Contains("connection refused", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Slow_backend_gives_504_within_the_timeout_and_the_backend_sees_the_cancellation()
    {
        var routes = new BackendRoutes();
        await using var backend = await Pki.StartBackendAsync(routes.Map);
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Set("payments", "Timeout", "5").Settings;
        await using var host = await InvokerHost.StartAsync(settings);
        // The certificate loads in the background at start-up, inside the call's timeout if the call comes first: loaded
        // before the clock starts, the time measured is the backend's and the timeout's alone, even on a loaded machine.
        await host.ProfileHealthAsync(p => p.GetProperty("certificate").GetProperty("loaded").GetBoolean());

        var watch = Stopwatch.StartNew();
        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}slow", timeoutSeconds = 1 });
        watch.Stop();

        var problem = await InvokerHost.AssertProblemAsync(response, 504, ErrorCodes.BackendTimeout);
        Assert.Contains("within 1 s", problem.GetProperty("detail").GetString());
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
        await routes.SlowCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the backend's request was aborted
    }

    [Fact]
    public async Task Timeout_asked_for_is_capped_by_the_profile()
    {
        var routes = new BackendRoutes();
        await using var backend = await Pki.StartBackendAsync(routes.Map);
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Set("payments", "Timeout", "00:00:01").Settings;
        await using var host = await InvokerHost.StartAsync(settings);
        // The certificate loads in the background at start-up, inside the call's timeout if the call comes first: loaded
        // before the clock starts, the time measured is the backend's and the timeout's alone, even on a loaded machine.
        await host.ProfileHealthAsync(p => p.GetProperty("certificate").GetProperty("loaded").GetBoolean());

        var watch = Stopwatch.StartNew();
        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}slow", timeoutSeconds = 120 });

        var problem = await InvokerHost.AssertProblemAsync(response, 504, ErrorCodes.BackendTimeout);
        Assert.Contains("allows at most 1 s", problem.GetProperty("detail").GetString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Loopback_targets_are_refused_unless_allowed_and_no_connection_is_made()
    {
        await using var scenario = await Scenario.Standard()
            .Setting("Invoker:AllowLoopback", "false")
            .StartAsync();
        var (backend, host) = scenario;

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains("loopback", problem.GetProperty("detail").GetString());
        Assert.Equal(0, backend.Connections);
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again on dispose: nothing listens there
    }
}
