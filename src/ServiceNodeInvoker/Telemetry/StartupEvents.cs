using System.Diagnostics.Tracing;

namespace ServiceNodeInvoker.Telemetry;

/// <summary>
/// The start-up milestones of the invoker that no runtime or ASP.NET Core event carries, as an <see cref="EventSource"/>
/// named <c>ServiceNodeInvoker</c> (the name of the invoker's activity source and meter): read by anything that listens to
/// EventSources — <c>dotnet-trace</c>, an EventPipe session started by the environment (<c>DOTNET_EnableEventPipe</c>, as
/// the cold-start benchmark does), an in-process <see cref="EventListener"/>. Nobody listening (the default), an event costs one
/// <see cref="EventSource.IsEnabled()"/> check. The request path writes nothing here: a first call's steps are the
/// runtime's own events (ASP.NET Core's request, <c>System.Net.Http</c>, <c>System.Net.Sockets</c>,
/// <c>System.Net.Security</c>) and the invocation's activity.
/// </summary>
/// <remarks>One instance for the process, as the runtime requires for a named source; reached through <see cref="InvokerTelemetry.Startup"/>.</remarks>
[EventSource(Name = SourceName)]
internal sealed class StartupEvents : EventSource
{
    public const string SourceName = "ServiceNodeInvoker";

    public static readonly StartupEvents Instance = new();

    private StartupEvents()
    {
    }

    /// <summary>The options model bound and validated (the host refuses to start otherwise).</summary>
    [Event(1, Level = EventLevel.Informational, Message = "options validated")]
    public void OptionsValidated() => WriteEvent(1);

    /// <summary>The platform's root certificate store read (the first TLS client context would read it otherwise).</summary>
    [Event(2, Level = EventLevel.Informational, Message = "root store loaded")]
    public void RootStoreLoaded() => WriteEvent(2);

    /// <summary>An owner's certificates (a profile's, the caller CA) loaded from their source.</summary>
    [Event(3, Level = EventLevel.Informational, Message = "certificates of {0} loaded")]
    public void CertificatesLoaded(string owner)
    {
        if (IsEnabled())
        {
            WriteEvent(3, owner);
        }
    }

    /// <summary>The warm-up done: every profile whose certificates loaded has its transport built.</summary>
    [Event(4, Level = EventLevel.Informational, Message = "transports warmed")]
    public void TransportsWarmed() => WriteEvent(4);
}
