using System.Globalization;
using Microsoft.Diagnostics.Tracing;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// A host process's start-up as the runtime's own instrumentation saw it. The process is launched with
/// <see cref="Environment"/>: an EventPipe session to a file for its whole life (<c>DOTNET_EnableEventPipe</c>, nothing in
/// the host's code), listening to ASP.NET Core's hosting events, the networking EventSources
/// (<c>System.Net.Http</c>, <c>.Sockets</c>, <c>.Security</c>), the generic host's diagnostic events, the invoker's activity
/// and its start-up EventSource (<c>ServiceNodeInvoker</c>: what no runtime event carries). Once the process has exited
/// (the file is complete only then), <see cref="Read"/> gives the first time each milestone was reached, in ms since launch.
/// </summary>
public sealed class StartupTrace(string path)
{
    /// <summary>The milestones, in the order a cold start reaches them.</summary>
    public static readonly string[] Milestones =
    [
        "runtime", "host-built", "options-validated", "roots-loaded", "listening", "certificates-loaded", "warm-transports",
        "first-request", "first-invocation", "first-backend-request", "first-connected", "first-handshake", "first-backend-answer", "first-answered",
    ];

    /// <summary>The trace file.</summary>
    public string Path { get; } = path;

    /// <summary>The environment that starts the session with the process (merge it into the process's own).</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["DOTNET_EnableEventPipe"] = "1",
        ["DOTNET_EventPipeOutputPath"] = Path,
        ["DOTNET_EventPipeOutputStreaming"] = "1",
        ["DOTNET_EventPipeRundown"] = "0", // no method and module rundown at the end: not needed for milestones, megabytes to write
        ["DOTNET_EventPipeConfig"] = string.Join(',',
            "ServiceNodeInvoker:0xFFFFFFFF:4",
            "Microsoft.AspNetCore.Hosting:0x0:4",
            "System.Net.Http:0x0:4",
            "System.Net.Sockets:0x0:4",
            "System.Net.Security:0x0:4",
            // The generic host's DiagnosticListener event and the invoker's activity, through the runtime's bridge (Events keyword;
            // one spec a line; no ':' — the variable's own syntax would cut the value there — so the default payload).
            "Microsoft-Diagnostics-DiagnosticSource:0x2:5:FilterAndPayloadSpecs=" +
            "Microsoft.Extensions.Hosting/HostBuilt\n[AS]ServiceNodeInvoker/Start"),
    };

    /// <summary>Milestone → ms since <paramref name="launchedUtc"/>; a milestone not reached is absent.</summary>
    /// <param name="backendPort">The backend's port: its request, connection, handshake and answer are the first-backend ones
    /// (other outgoing requests — Key Vault, a token endpoint — are not); null: the first outgoing request.</param>
    public IReadOnlyDictionary<string, double> Read(DateTime launchedUtc, int? backendPort = null)
    {
        var found = new Dictionary<string, double>();
        if (!File.Exists(Path))
        {
            return found;
        }
        using var source = new EventPipeEventSource(Path);
        double Since(TraceEvent e) => (e.TimeStamp.ToUniversalTime() - launchedUtc).TotalMilliseconds;
        void First(string milestone, double at) => found.TryAdd(milestone, at);
        found["runtime"] = (source.SessionStartTime.ToUniversalTime() - launchedUtc).TotalMilliseconds;
        source.Dynamic.All += e =>
        {
            var name = e.EventName?.Replace("/", "", StringComparison.Ordinal);
            var at = Since(e);
            var backend = found.ContainsKey("first-backend-request");
            switch (e.ProviderName, name)
            {
                case ("ServiceNodeInvoker", "OptionsValidated"): First("options-validated", at); break;
                case ("ServiceNodeInvoker", "RootStoreLoaded"): First("roots-loaded", at); break;
                case ("ServiceNodeInvoker", "CertificatesLoaded"): First("certificates-loaded", at); break;
                case ("ServiceNodeInvoker", "TransportsWarmed"): First("warm-transports", at); break;
                case ("Microsoft.AspNetCore.Hosting", "ServerReady"): First("listening", at); break;
                case ("Microsoft.AspNetCore.Hosting", "RequestStart"): First("first-request", at); break;
                case ("Microsoft.AspNetCore.Hosting", "RequestStop") when found.ContainsKey("first-backend-answer"): First("first-answered", at); break;
                case ("System.Net.Http", "RequestStart")
                    when backendPort is null || Convert.ToInt32(e.PayloadByName("port"), CultureInfo.InvariantCulture) == backendPort:
                    First("first-backend-request", at);
                    break;
                case ("System.Net.Sockets", "ConnectStop") when backend: First("first-connected", at); break;
                case ("System.Net.Security", "HandshakeStop") when backend: First("first-handshake", at); break;
                case ("System.Net.Http", "ResponseHeadersStop") when backend: First("first-backend-answer", at); break;
                case ("Microsoft-Diagnostics-DiagnosticSource", _):
                    var what = $"{e.PayloadByName("SourceName")}/{e.PayloadByName("EventName") ?? e.PayloadByName("ActivityName")}";
                    if (what == "Microsoft.Extensions.Hosting/HostBuilt")
                    {
                        First("host-built", at);
                    }
                    else if (what.StartsWith("ServiceNodeInvoker/", StringComparison.Ordinal))
                    {
                        First("first-invocation", at);
                    }
                    break;
            }
        };
        source.Process();
        return found;
    }
}
