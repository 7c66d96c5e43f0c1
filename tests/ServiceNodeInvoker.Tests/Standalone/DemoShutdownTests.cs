namespace ServiceNodeInvoker.Tests.Standalone;

/// <summary>
/// The first thing a newcomer does after the demo: stop it. Ctrl+C (SIGINT) and a service manager's SIGTERM end the real
/// demo process cleanly — exit 0, nothing on standard error — instead of an unhandled exception and exit 134 (issue 34, item 6).
/// </summary>
public sealed class DemoShutdownTests
{
    [Theory]
    [InlineData(StandaloneProcess.SigInt)]
    [InlineData(StandaloneProcess.SigTerm)]
    public async Task The_demo_stops_cleanly_on_a_signal(int signal)
    {
        var outcome = await StandaloneProcess.RunAndSignalAsync(new Dictionary<string, string>(), "demo is running", signal,
            "--demo", "--urls", "http://127.0.0.1:0");

        Assert.True(outcome.Listening, $"the demo did not start: {outcome.Output}{outcome.Error}");
        Assert.True(outcome.ExitCode == 0, $"exit {outcome.ExitCode?.ToString() ?? "none (killed after the deadline)"}: {outcome.Error}");
        Assert.DoesNotContain("Exception", outcome.Error + outcome.Output);
        Assert.Equal("", outcome.Error.Trim());
    }

    [Theory]
    [InlineData(StandaloneProcess.SigInt)]
    [InlineData(StandaloneProcess.SigTerm)]
    public async Task The_standalone_host_stops_cleanly_on_a_signal(int signal)
    {
        var outcome = await StandaloneProcess.RunAndSignalAsync(StartupRefusalTestsBase(), "Now listening on", signal, "--urls", "http://127.0.0.1:0");

        Assert.True(outcome.Listening, $"the host did not start: {outcome.Output}{outcome.Error}");
        Assert.True(outcome.ExitCode == 0, $"exit {outcome.ExitCode?.ToString() ?? "none (killed after the deadline)"}: {outcome.Error}");
        Assert.DoesNotContain("Exception", outcome.Error + outcome.Output);
    }

    private static Dictionary<string, string> StartupRefusalTestsBase() => ServiceNodeInvoker.Tests.Configuration.StartupRefusalTests.Base();
}
