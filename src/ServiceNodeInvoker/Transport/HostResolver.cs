using System.Net;

namespace ServiceNodeInvoker.Transport;

/// <summary>Resolves host names at connect time. Replaceable so tests can play DNS rebinding without a DNS server.</summary>
internal class HostResolver
{
    public virtual Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);
}
