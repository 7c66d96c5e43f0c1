using System.Net.Sockets;

namespace ServiceNodeInvoker.Primitives;

/// <summary>Socket errors in plain words.</summary>
internal static class SocketErrors
{
    /// <summary>The plain-words reason for a socket error, the same in every error message and probe report.</summary>
    public static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused (nothing listens on that port)",
        SocketError.TimedOut => "connection timed out",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
        SocketError.ConnectionReset => "connection reset by the backend",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host name not found (DNS)",
        _ => error.ToString(),
    };
}
