
namespace ServiceNodeInvoker.Tests.Configuration;

/// <summary>
/// <c>--check-config</c> refuses exactly what start-up refuses (the same table of bad configurations, the
/// same lines) and accepts the documented samples, without serving; <c>--help</c> and <c>--version</c> answer
/// and exit.
/// </summary>
public sealed class ConfigurationCheckTests
{
    private static (int? Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = CommandLine.TryRun(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Environment-style settings (Invoker__A__B=v) as command-line settings (--Invoker:A:B=v), which the check reads like start-up does.</summary>
    private static string[] AsArguments(IEnumerable<KeyValuePair<string, string>> settings) =>
        settings.Select(s => $"--{s.Key.Replace("__", ":", StringComparison.Ordinal)}={s.Value}").ToArray();

    public static TheoryData<string> Names() => new(StartupRefusalTests.Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_configuration_start_up_refuses_is_refused_by_the_check_with_the_same_line(string name)
    {
        var (_, settings, expected) = StartupRefusalTests.Cases.Single(c => c.Name == name);
        var environment = StartupRefusalTests.Base();
        foreach (var setting in settings)
        {
            var at = setting.IndexOf('=');
            environment[setting[..at]] = setting[(at + 1)..];
        }

        var (code, _, error) = Run(["--check-config", .. AsArguments(environment)]);

        Assert.Equal(1, code);
        Assert.Contains(expected, error);
        Assert.StartsWith("The invoker would not start:", error);
        Assert.DoesNotContain("hunter2", error);
        Assert.DoesNotContain("my-secret-key", error);
    }

    [Fact]
    public void A_good_configuration_passes_and_names_its_profiles()
    {
        var (code, output, error) = Run(["--check-config", .. AsArguments(StartupRefusalTests.Base())]);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("Configuration OK", output);
        Assert.Contains(": a.", output);
    }

    [Fact]
    public void The_documented_local_settings_sample_passes_as_the_functions_app()
    {
        var sample = Path.Combine(Tools.RepoRoot, "local.settings.sample.json");
        var (code, output, error) = Run("--check-config", sample);
        Assert.True(code == 0, error);
        Assert.Contains("'local.settings.sample.json' as the Functions app", output);
        Assert.Contains("billing, orders, payments", output);
    }

    [Fact]
    public void A_local_settings_file_with_mistakes_lists_them_all()
    {
        using var files = new TempFiles();
        var file = files.Text("local.settings.json", JsonSerializer.Serialize(new
        {
            IsEncrypted = false,
            Values = new Dictionary<string, string>
            {
                ["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated",
                ["Invoker__Profiles__a__Hosts__0"] = "a.contoso.com",
                ["Invoker__Profiles__a__MaxResponseBytes"] = "20MiB",
                ["Invoker__Profiles__a__Timeout"] = "30s",
            },
        }));
        var (code, _, error) = Run("--check-config", file);
        Assert.Equal(1, code);
        Assert.Contains("2 configuration problems", error);
        Assert.Contains("Invoker:Profiles:a:MaxResponseBytes: '20MiB' is not a whole number", error);
        Assert.Contains("Invoker:Profiles:a:Timeout: '30s' is neither seconds", error);
    }

    [Fact]
    public void A_file_that_is_not_local_settings_is_named()
    {
        using var files = new TempFiles();
        var (code, _, error) = Run("--check-config", files.Text("appsettings.json", "{\"Invoker\":{}}"));
        Assert.Equal(1, code);
        Assert.Contains("has no \"Values\" object", error);
        (code, _, error) = Run("--check-config", Path.Combine(files.Directory, "nothing.json"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", error);
    }

    [Fact]
    public async Task The_real_process_checks_without_serving_and_help_and_version_exit()
    {
        var bad = StartupRefusalTests.Base();
        bad["Invoker__Profiles__a__Timeout"] = "soon";
        var checkedBad = await StandaloneProcess.RunAsync(bad, null, "--check-config", "--urls", "http://127.0.0.1:0");
        Assert.Equal(1, checkedBad.ExitCode);
        Assert.False(checkedBad.Listening);
        Assert.Contains("Invoker:Profiles:a:Timeout: 'soon' is neither seconds", checkedBad.Error);

        var checkedGood = await StandaloneProcess.RunAsync(StartupRefusalTests.Base(), null, "--check-config", "--urls", "http://127.0.0.1:0");
        Assert.Equal(0, checkedGood.ExitCode);
        Assert.False(checkedGood.Listening);

        var help = await StandaloneProcess.RunAsync(new Dictionary<string, string>(), null, "--help", "--urls", "http://127.0.0.1:0");
        Assert.Equal(0, help.ExitCode);
        Assert.False(help.Listening);
        Assert.Contains("Usage:", help.Output);
        Assert.Contains("--check-config [FILE]", help.Output);
        // The default address --help names is the one the host listens on (issue 34, item 8).
        var appsettings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Tools.RepoRoot, "src", "ServiceNodeInvoker.Standalone", "appsettings.json")));
        var listens = appsettings.RootElement.GetProperty("Urls").GetString()!;
        Assert.Contains($"(default {listens},", help.Output);
        Assert.DoesNotContain("localhost:5000", help.Output);

        var version = await StandaloneProcess.RunAsync(new Dictionary<string, string>(), null, "--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^service-node-invoker \d+\.\d+\.\d+", version.Output);
    }
    /// <summary>Issue 34, item 5: the README's `--check-config local.settings.json`, typed in the folder that holds the file.</summary>
    [Fact]
    public async Task A_relative_file_is_found_in_the_current_folder_and_a_missing_one_says_where_it_was_looked_for()
    {
        using var files = new TempFiles();
        File.Copy(Path.Combine(Tools.RepoRoot, "local.settings.sample.json"), Path.Combine(files.Directory, "local.settings.json"));
        var empty = new Dictionary<string, string>();

        var found = await StandaloneProcess.RunInAsync(files.Directory, empty, "--check-config", "local.settings.json");
        Assert.True(found.ExitCode == 0, found.Error);
        Assert.Contains("Configuration OK (checked 'local.settings.json' as the Functions app)", found.Output);

        var missing = await StandaloneProcess.RunInAsync(files.Directory, empty, "--check-config", "nosuch.json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains($"'nosuch.json' does not exist (looked for {Path.Combine(files.Directory, "nosuch.json")}, relative to the current folder {files.Directory})", missing.Error);

        // Under `dotnet run` the app starts in the project folder; the project passes the folder the command was typed in.
        var underRun = await StandaloneProcess.RunInAsync(Path.GetTempPath(), empty, CommandLine.InvokedFromSwitch, files.Directory, "--check-config", "local.settings.json");
        Assert.True(underRun.ExitCode == 0, underRun.Error);
        var project = File.ReadAllText(Path.Combine(Tools.RepoRoot, "src", "ServiceNodeInvoker.Standalone", "ServiceNodeInvoker.Standalone.csproj"));
        Assert.Contains($"<RunArguments>{CommandLine.InvokedFromSwitch} \"$(MSBuildStartupDirectory)\" $(RunArguments)</RunArguments>", project);
    }
}
