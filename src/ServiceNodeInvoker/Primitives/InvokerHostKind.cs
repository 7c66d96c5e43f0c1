namespace ServiceNodeInvoker.Primitives;

/// <summary>Which host the library runs in: the Functions host checks function keys itself.</summary>
public enum InvokerHostKind
{
    Standalone,
    Functions,
}

/// <summary>The host kind, as a service (the container holds reference types).</summary>
public sealed record InvokerHostInfo(InvokerHostKind Kind);
