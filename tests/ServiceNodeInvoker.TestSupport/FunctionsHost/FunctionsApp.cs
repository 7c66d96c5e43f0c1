namespace ServiceNodeInvoker.TestSupport.FunctionsHost;

/// <summary>
/// The Functions project, built once per test run. Its official worker packages restore from the public NuGet feed, so
/// the Functions tests always run: a Functions app that does not build is a failure, never a skip. A mirror that lacks
/// the worker packages can be supplemented with EXTRA_NUGET_SOURCE (a folder or feed that has them).
/// </summary>
public static class FunctionsApp
{
    private static readonly Lazy<(string? Directory, string? Problem)> Built = new(Build);

    /// <summary>Why the Functions app could not be built, or null when it was.</summary>
    public static string? Problem => Built.Value.Problem;

    /// <summary>The build output the worker runs from; throws, saying why, when the app did not build.</summary>
    public static string Directory => Built.Value.Directory ?? throw new InvalidOperationException(Problem);

    private static (string?, string?) Build()
    {
        var project = Path.Combine(Tools.RepoRoot, "src", "ServiceNodeInvoker.Functions", "ServiceNodeInvoker.Functions.csproj");
        var extra = Environment.GetEnvironmentVariable("EXTRA_NUGET_SOURCE");
        // The SDK's generated extension project may warn NU1603 (a nearer dependency version than it asks for): a warning here.
        var arguments = $"build \"{project}\" -c Debug -nologo -v q"
            + (string.IsNullOrEmpty(extra) ? "" : $" -p:RestoreAdditionalProjectSources=\"{extra}\"");
        var (exit, output, error) = Tools.Run("dotnet", arguments, timeoutSeconds: 600);
        if (exit != 0)
        {
            var first = (output + error).Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))?.Trim();
            return (null, $"the Functions project did not build (dotnet {arguments}): {first}. Its worker packages come from the public NuGet " +
                          "feed; on a mirror that lacks them, set EXTRA_NUGET_SOURCE to a folder or feed that has them.");
        }
        var directory = Path.Combine(Path.GetDirectoryName(project)!, "bin", "Debug", "net10.0");
        return File.Exists(Path.Combine(directory, "worker.config.json"))
            ? (directory, null)
            : (null, $"the Functions build produced no worker.config.json in {directory}");
    }
}

/// <summary>
/// A fact that runs the real Functions worker. It is never skipped: where the Functions app cannot be built the test
/// fails with the build's first error (.ci/run counts these tests by their class, FunctionsHost, and requires them all run).
/// </summary>
public sealed class FunctionsFactAttribute : FactAttribute;
