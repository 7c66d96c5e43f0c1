using System.Diagnostics;

namespace ServiceNodeInvoker.Tests.Infra;

/// <summary>
/// The preprovision hooks (infra/hooks), run by the shells azd runs them with (sh, and PowerShell 7, a local tool of
/// this repository: dotnet-tools.json) against a stand-in `az` on PATH: when they call the Azure CLI, and that every
/// way it can go wrong stops the hook with a message that says what to do.
/// </summary>
public sealed class PreprovisionHookTests
{
    private const string Subscription = "00000000-0000-0000-0000-0000000000aa";

    private static readonly Lazy<string> PowerShellRestored = new(() =>
    {
        var (exit, output, error) = Tools.Run(DotnetHost, "tool restore", Tools.RepoRoot, timeoutSeconds: 300);
        Assert.True(exit == 0, $"dotnet tool restore (PowerShell is a local tool in dotnet-tools.json) failed: {output}{error}");
        return DotnetHost;
    });

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
                .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";

    /// <summary>What the stand-in Azure CLI does: signed in or not, the provider's state, whether registering fails.</summary>
    private sealed record Cli(bool Installed = true, bool SignedIn = true, string State = "NotRegistered", bool RegisterFails = false);

    private sealed record Outcome(int ExitCode, string Output, string Error, string Calls)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout: {Output}\nstderr: {Error}\naz calls:\n{Calls}";
    }

    private static Outcome RunHook(string shell, string? enableVnet, Cli cli, string? subscription = null)
    {
        var folder = Directory.CreateTempSubdirectory("sni-hook-").FullName;
        try
        {
            var bin = Path.Combine(folder, "bin");
            Directory.CreateDirectory(bin);
            var calls = Path.Combine(folder, "calls");
            if (cli.Installed)
            {
                // Shell builtins only: the hook runs with nothing but this folder on PATH.
                var az = Path.Combine(bin, "az");
                File.WriteAllText(az, $$"""
                    #!/bin/sh
                    echo "$*" >> '{{calls}}'
                    case "$1 $2" in
                      "account show") {{(cli.SignedIn ? "exit 0" : "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1")}} ;;
                      "provider show") echo '{{cli.State}}'; exit 0 ;;
                      "provider register") {{(cli.RegisterFails
                          ? "echo \"ERROR: (AuthorizationFailed) The client does not have authorization to perform action 'Microsoft.App/register/action'.\" >&2; exit 1"
                          : "exit 0")}} ;;
                    esac
                    echo "stand-in az: unexpected call: $*" >&2
                    exit 2

                    """.Replace("\r", "", StringComparison.Ordinal));
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(az, File.GetUnixFileMode(az) | UnixFileMode.UserExecute);
                }
            }

            var hooks = Path.Combine(Tools.InfraDirectory, "hooks");
            var start = shell == "sh"
                ? new ProcessStartInfo(File.Exists("/bin/sh") ? "/bin/sh" : "sh", $"\"{Path.Combine(hooks, "preprovision.sh")}\"")
                : new ProcessStartInfo(PowerShellRestored.Value,
                    $"tool run pwsh -NoLogo -NoProfile -NonInteractive -File \"{Path.Combine(hooks, "preprovision.ps1")}\"");
            start.WorkingDirectory = Tools.RepoRoot;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            start.Environment["PATH"] = bin;
            start.Environment.Remove("ENABLE_VNET");
            start.Environment.Remove("AZURE_SUBSCRIPTION_ID");
            if (enableVnet is not null)
            {
                start.Environment["ENABLE_VNET"] = enableVnet;
            }
            if (subscription is not null)
            {
                start.Environment["AZURE_SUBSCRIPTION_ID"] = subscription;
            }
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the {shell} hook did not finish within 120 s");
            }
            return new Outcome(process.ExitCode, output.Result, error.Result, File.Exists(calls) ? File.ReadAllText(calls) : "");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void Values_azd_reads_as_false_never_call_the_azure_cli(string shell)
    {
        foreach (var value in new[] { null, "", "false", "False", "FALSE", "0", "f" })
        {
            var outcome = RunHook(shell, value, new Cli(Installed: false));
            Assert.True(outcome.ExitCode == 0 && outcome.Calls == "", $"ENABLE_VNET={value ?? "(unset)"}: {outcome}");
        }
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void Values_azd_reads_as_true_register_microsoft_app_in_the_azd_subscription(string shell)
    {
        foreach (var value in new[] { "true", "True", "TRUE", "1" })
        {
            var outcome = RunHook(shell, value, new Cli(), Subscription);
            Assert.True(outcome.ExitCode == 0, $"ENABLE_VNET={value}: {outcome}");
            var calls = outcome.Calls.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, calls.Length);
            Assert.StartsWith("account show", calls[0], StringComparison.Ordinal);
            Assert.StartsWith("provider show --namespace Microsoft.App", calls[1], StringComparison.Ordinal);
            Assert.StartsWith("provider register --namespace Microsoft.App", calls[2], StringComparison.Ordinal);
            Assert.Contains("--wait", calls[2], StringComparison.Ordinal);
            Assert.All(calls[1..], call => Assert.Contains($"--subscription {Subscription}", call, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void An_already_registered_provider_is_left_alone(string shell)
    {
        var outcome = RunHook(shell, "true", new Cli(State: "Registered"));
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.DoesNotContain("provider register", outcome.Calls, StringComparison.Ordinal);
        Assert.Contains("provider show", outcome.Calls, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void A_signed_out_azure_cli_stops_the_hook_before_any_provider_call_and_says_to_run_az_login(string shell)
    {
        var outcome = RunHook(shell, "True", new Cli(SignedIn: false));
        Assert.True(outcome.ExitCode != 0, outcome.ToString());
        Assert.Contains("not signed in", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("'az login'", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("azd auth login does not sign in az", outcome.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("provider", outcome.Calls, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void A_missing_azure_cli_stops_the_hook_naming_what_to_install_and_the_portal_alternative(string shell)
    {
        var outcome = RunHook(shell, "1", new Cli(Installed: false));
        Assert.True(outcome.ExitCode != 0, outcome.ToString());
        Assert.Contains("Azure CLI (az), which is not installed", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("Resource providers > Microsoft.App > Register", outcome.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void A_failed_registration_fails_the_hook_with_the_cli_error_and_the_permission_it_needs(string shell)
    {
        var outcome = RunHook(shell, "true", new Cli(RegisterFails: true));
        Assert.True(outcome.ExitCode != 0, outcome.ToString());
        Assert.Contains("provider register", outcome.Calls, StringComparison.Ordinal); // the last command of the hook failed
        Assert.Contains("AuthorizationFailed", outcome.Error, StringComparison.Ordinal); // the CLI's own error reaches the user
        Assert.Contains("registering the Microsoft.App resource provider failed", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("Contributor or Owner", outcome.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("pwsh")]
    public void A_value_azd_cannot_read_as_a_boolean_stops_the_hook_instead_of_guessing(string shell)
    {
        var outcome = RunHook(shell, "yes", new Cli());
        Assert.True(outcome.ExitCode != 0, outcome.ToString());
        Assert.Contains("ENABLE_VNET='yes' is not a boolean", outcome.Error, StringComparison.Ordinal);
        Assert.Equal("", outcome.Calls);
    }
}
