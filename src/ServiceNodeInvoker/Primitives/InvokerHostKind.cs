namespace ServiceNodeInvoker.Primitives;

/// <summary>Which host the library runs in: the Functions host checks function keys itself.</summary>
public enum InvokerHostKind
{
    /// <summary>The standalone ASP.NET Core host: it checks API keys itself.</summary>
    Standalone,

    /// <summary>The Azure Functions isolated worker: the Functions host checks function keys.</summary>
    Functions,
}

/// <summary>The host kind, as a service (the container holds reference types).</summary>
internal sealed record InvokerHostInfo(InvokerHostKind Kind);
