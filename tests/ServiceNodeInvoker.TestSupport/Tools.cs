using System.Diagnostics;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>The repository root and the external tools the infra checks run: the Bicep CLI (a NuGet package) and node.</summary>
public static class Tools
{
    public static readonly string RepoRoot = FindRoot();

    public static string InfraDirectory => Path.Combine(RepoRoot, "infra");

    public static string Schemas => Path.Combine(InfraDirectory, "checks", "schemas");

    public static string Bicep
    {
        get
        {
            var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            var path = Path.Combine(packages, "azure.bicep.commandline.linux-x64", "0.49.2", "tools", "bicep");
            Assert.True(File.Exists(path), $"the Bicep CLI is restored with the test project (PackageDownload); not found at {path}");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute); // NuGet drops the mode bit
            }
            return path;
        }
    }

    public static (int ExitCode, string Output, string Error) Run(string file, string arguments, string? workingDirectory = null, int timeoutSeconds = 180)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? RepoRoot,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(file)} {arguments} did not finish within {timeoutSeconds} s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Functions.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Functions.sln not found above the test output");
    }
}
