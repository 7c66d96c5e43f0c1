using ServiceNodeInvoker.Primitives;
using System.Reflection;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Configuration;

namespace ServiceNodeInvoker.Standalone;

/// <summary>The standalone host's own switches: --help, --version and --check-config; everything else goes to the host.</summary>
public static class CommandLine
{
    public const string Help = "--help";
    public const string Version = "--version";
    public const string CheckConfig = "--check-config";

    /// <summary>Runs a switch that does not serve (help, version, configuration check); null when the host should start.</summary>
    public static int? TryRun(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Contains(Help) || args.Contains("-h") || args.Contains("-?"))
        {
            output.Write(Usage);
            return 0;
        }
        if (args.Contains(Version))
        {
            output.WriteLine($"service-node-invoker {ProductVersion}");
            return 0;
        }
        var at = Array.IndexOf(args, CheckConfig);
        if (at < 0)
        {
            return null;
        }
        var file = at + 1 < args.Length && !args[at + 1].StartsWith('-') ? args[at + 1] : null;
        return Check(file, args.Where((_, i) => i != at && (file is null || i != at + 1)).ToArray(), output, error);
    }

    /// <summary>
    /// Put first by `dotnet run` (the project's RunArguments) with the folder the command was typed in: the app itself starts
    /// in the project folder. Not for people to type.
    /// </summary>
    public const string InvokedFromSwitch = "--invoked-from";

    private static string? s_invokedFrom;

    /// <summary>Takes <see cref="InvokedFromSwitch"/> and its folder out of the arguments, keeping the folder for <see cref="InvokedFrom"/>.</summary>
    public static string[] TakeInvokedFrom(string[] args)
    {
        var at = Array.IndexOf(args, InvokedFromSwitch);
        if (at < 0 || at + 1 >= args.Length)
        {
            return args;
        }
        s_invokedFrom = Directory.Exists(args[at + 1]) ? args[at + 1] : null;
        return args.Where((_, i) => i != at && i != at + 1).ToArray();
    }

    /// <summary>The current folder of whoever started the host: under `dotnet run` the shell's, not the project folder it starts the app in.</summary>
    public static string InvokedFrom => s_invokedFrom ?? Environment.CurrentDirectory;

    public static string ProductVersion =>
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// The start-up check without starting: the configuration the standalone host would read (appsettings.json
    /// in the current folder, environment variables, command-line settings), or a Functions local.settings.json.
    /// </summary>
    private static int Check(string? file, string[] hostArgs, TextWriter output, TextWriter error)
    {
        IConfiguration configuration;
        InvokerHostKind host;
        string what;
        if (file is not null)
        {
            var given = file;
            file = Path.GetFullPath(file, InvokedFrom);
            if (!File.Exists(file))
            {
                error.WriteLine($"The configuration check could not run: '{given}' does not exist (looked for {file}" +
                    (Path.IsPathRooted(given) ? ")." : $", relative to the current folder {InvokedFrom})."));
                return StartupRefusal.ExitCode;
            }
            try
            {
                configuration = ConfigurationCheck.FromLocalSettings(file);
            }
            catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException)
            {
                error.WriteLine($"The configuration check could not run: {e.Message.TrimEnd('.')}.");
                return StartupRefusal.ExitCode;
            }
            host = InvokerHostKind.Functions;
            what = $"'{Path.GetFileName(file)}' as the Functions app";
        }
        else
        {
            var builder = WebApplication.CreateSlimBuilder(hostArgs);
            configuration = builder.Configuration;
            host = InvokerHostKind.Standalone;
            // The full path: under `dotnet run` the host's folder is the project's, not the one the command was typed in.
            var settingsFile = Path.Combine(builder.Environment.ContentRootPath, "appsettings.json");
            what = $"{settingsFile}{(File.Exists(settingsFile) ? "" : " (not there)")} and the environment as the standalone host";
        }
        using var watched = configuration as IDisposable; // the builder's file watchers go with the check
        var problems = ConfigurationCheck.Problems(configuration, host);
        if (problems.Count > 0)
        {
            error.WriteLine($"The invoker would not start: {problems.Count} configuration problem{(problems.Count == 1 ? "" : "s")} (checked {what}).");
            foreach (var problem in problems)
            {
                error.WriteLine($"  {problem}");
            }
            return StartupRefusal.ExitCode;
        }
        var profiles = configuration.GetSection($"{InvokerOptions.SectionName}:Profiles").GetChildren().Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        output.WriteLine($"Configuration OK (checked {what}): {profiles.Count} profile{(profiles.Count == 1 ? "" : "s")}" +
            (profiles.Count == 0 ? "." : $": {string.Join(", ", profiles)}."));
        output.WriteLine("Certificates are not read by the check: the probe and /api/health judge them once deployed.");
        return 0;
    }

    private const string Usage = """
        Service Node Invoker — standalone host: calls backends that require mutual TLS on behalf of bots.

        Usage: ServiceNodeInvoker.Standalone [options] [--Setting=value ...]

        Options:
          --demo                 run a throwaway PKI, an mTLS demo backend and the invoker on loopback; prints a curl to try
          --urls <url;url>       where to listen (default http://127.0.0.1:5080, from appsettings.json; Kestrel:Endpoints in settings for HTTPS)
          --console-telemetry    also print every trace to the console
          --check-config [FILE]  check the configuration as start-up would, without serving: appsettings.json and the
                                 environment, or FILE, a Functions local.settings.json (relative to the current folder).
                                 Exit 0 when it would start,
                                 1 with one line per problem. Certificates themselves are not read.
          --version              print the version
          --help                 print this text

        Settings come from appsettings.json in the host's folder (the project folder under `dotnet run`, else the current
        folder; --check-config prints which file it read), environment variables (Invoker__Profiles__payments__Hosts__0)
        and --Invoker:Setting=value arguments, later ones winning; everything lives under Invoker (see README.md).

        Endpoints: POST /api/invoke, /api/forward/{profile}/{path}, GET /api/health, GET /api/live (no key),
        admin: GET /api/profiles, POST /api/profiles/{name}/refresh, POST /api/profiles/{name}/probe,
        POST /api/configuration/reload.

        While it runs, the host follows appsettings.json and appsettings.<environment>.json: a saved change to profiles or
        callers is checked as start-up checks it and applied to new requests, or refused as a whole (the log names every
        problem) while the last good configuration keeps serving. Listeners, telemetry, the credential and the global
        Invoker settings need a restart (the log says so).

        """;
}
