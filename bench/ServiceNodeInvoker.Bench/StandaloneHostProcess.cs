using System.Diagnostics;
using System.Globalization;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Standalone.Demo;

namespace ServiceNodeInvoker.Bench;

/// <summary>The standalone host as its own process, with a <c>bench</c> profile on file certificates and the bench API key.</summary>
public static class StandaloneHostProcess
{
    public const string ApiKey = "bench-api-key";

    /// <summary>A start description on a free loopback port; <paramref name="port"/> is where it will listen.</summary>
    public static ProcessStartInfo StartInfo(BenchPki pki, MutualTlsBackend backend, out int port) =>
        StartInfo(pki, backend.Port, out port, "Warning");

    /// <param name="logLevel">Logging:LogLevel:Default, or null for the host's own (Information: a line per invocation).</param>
    /// <param name="dll">Another build of the standalone host (an A/B baseline), or null for the one beside the harness.</param>
    public static ProcessStartInfo StartInfo(BenchPki pki, int backendPort, out int port, string? logLevel, string? dll = null)
    {
        dll ??= Path.Combine(AppContext.BaseDirectory, "ServiceNodeInvoker.Standalone.dll");
        port = ExternalLoad.FreePort();
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port}") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        var env = start.Environment;
        env["Invoker__AllowLoopback"] = "true";
        env["Invoker__Profiles__bench__Hosts__0"] = $"localhost:{backendPort}";
        env["Invoker__Profiles__bench__ClientCertificate__Source"] = "File";
        env["Invoker__Profiles__bench__ClientCertificate__Path"] = pki.ClientPfx;
        env["Invoker__Profiles__bench__ClientCertificate__Password"] = "bench";
        env["Invoker__Profiles__bench__TrustedCa__Source"] = "File";
        env["Invoker__Profiles__bench__TrustedCa__Path"] = pki.RootPem;
        env["Invoker__Callers__ApiKeys__bench"] = ApiKeyAuthenticator.HashKey(ApiKey);
        if (logLevel is not null)
        {
            env["Logging__LogLevel__Default"] = logLevel;
        }
        return start;
    }

    /// <summary>Resident set size of a process (this one by default), from /proc.</summary>
    public static long Rss(int? pid = null)
    {
        foreach (var line in File.ReadLines(pid is null ? "/proc/self/status" : $"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        return 0;
    }
}
