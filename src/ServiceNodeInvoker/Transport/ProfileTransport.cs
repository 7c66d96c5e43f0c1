using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using System.Collections.Concurrent;
using System.Security.Authentication;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// One pooled handler for one (profile, certificate material) (<see cref="IBackendHandlers"/>). Requests hold a lease;
/// once retired (a rotation) it is disposed when the last lease ends, so in-flight calls finish.
/// </summary>
internal sealed class ProfileTransport
{
    private readonly ConcurrentDictionary<string, SslProtocols> _protocols = new();
    private int _references = 1; // the pool's own reference, released on Retire

    public ProfileTransport(TlsProfile profile, ProfileMaterial material, IBackendHandlers handlers)
    {
        Profile = profile;
        Material = material;
        Invoker = new HttpMessageInvoker(handlers.Create(profile, material, (url, protocol) => _protocols[url.Authority] = protocol), disposeHandler: true);
    }

    public TlsProfile Profile { get; }
    public ProfileMaterial Material { get; }
    public HttpMessageInvoker Invoker { get; }

    public bool IsDisposed => Volatile.Read(ref _references) == 0;

    /// <summary>The protocol negotiated on the latest connection to a host:port.</summary>
    public SslProtocols? ProtocolFor(Uri url) => _protocols.TryGetValue(url.Authority, out var p) ? p : null;

    internal bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Invoker.Dispose();
        }
    }

    internal void Retire() => Release();
}
