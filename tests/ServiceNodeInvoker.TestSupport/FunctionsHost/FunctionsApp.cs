
namespace ServiceNodeInvoker.TestSupport.FunctionsHost;

/// <summary>
/// The Functions project, built once per test run. Its worker packages come from the public NuGet
/// registry; where a feed lacks them, EXTRA_NUGET_SOURCE names a folder that has them (.ci/run sets it
/// when it finds one). Where they cannot be restored at all, the Functions tests are skipped, saying so.
/// </summary>
public static class FunctionsApp
{
    private static readonly Lazy<(string? Directory, string? Problem)> Built = new(Build);

    public static string? Problem => Built.Value.Problem;

    public static string Directory => Built.Value.Directory ?? throw new InvalidOperationException(Problem);

    private static (string?, string?) Build()
    {
        var project = Path.Combine(Tools.RepoRoot, "src", "ServiceNodeInvoker.Functions", "ServiceNodeInvoker.Functions.csproj");
        var extra = Environment.GetEnvironmentVariable("EXTRA_NUGET_SOURCE");
        var arguments = $"build \"{project}\" -c Debug -nologo -v q" + (string.IsNullOrEmpty(extra) ? "" : $" -p:RestoreAdditionalProjectSources=\"{extra}\"");
        var (exit, output, error) = Tools.Run("dotnet", arguments, timeoutSeconds: 600);
        if (exit != 0)
        {
            var first = (output + error).Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))?.Trim();
            return (null, "the Functions project could not be built here, so the real worker cannot run: its Azure Functions worker packages do not " +
                          $"restore from the configured feeds (set EXTRA_NUGET_SOURCE to a folder that has them). First error: {first}");
        }
        var directory = Path.Combine(Path.GetDirectoryName(project)!, "bin", "Debug", "net10.0");
        return File.Exists(Path.Combine(directory, "worker.config.json"))
            ? (directory, null)
            : (null, $"the Functions build produced no worker.config.json in {directory}");
    }
}

/// <summary>A fact that runs the real Functions worker; skipped, saying why, where its packages cannot be restored.</summary>
public sealed class FunctionsFactAttribute : FactAttribute
{
    public FunctionsFactAttribute()
    {
        if (FunctionsApp.Problem is { } problem)
        {
            Skip = problem;
        }
    }
}
