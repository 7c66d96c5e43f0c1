using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// One pooled mutual-TLS handler for one (profile, certificate material). Requests hold a lease;
/// once retired (a rotation) it is disposed when the last lease ends, so in-flight calls finish.
/// </summary>
internal sealed class ProfileTransport
{
    private readonly ConcurrentDictionary<string, SslProtocols> _protocols = new();
    private int _references = 1; // the pool's own reference, released on Retire

    public ProfileTransport(TlsProfile profile, ProfileMaterial material, BackendConnector connector)
    {
        Profile = profile;
        Material = material;
        var validator = new ServerCertificateValidator(material.TrustedCa, profile.ServerCertificatePins, profile.AllowLegacyServerCrypto);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a 3xx goes back to the bot; following it could leave the profile's hosts
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            // An answer abandoned before its end (too large, malformed, caller gone) closes its connection:
            // draining it could put a connection with a desynchronised stream back in the pool.
            MaxResponseDrainSize = 0,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10), // re-resolve DNS now and then
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            ConnectCallback = async (context, token) =>
            {
                var addresses = await connector.ResolveAsync(context.DnsEndPoint.Host, Profile, token);
                StartupTimeline.Mark("first-resolved");
                var (socket, _) = await BackendConnector.ConnectAsync(addresses, context.DnsEndPoint.Port, token);
                StartupTimeline.Mark("first-connected");
                // What the server sends during the handshake is kept for the failure classifier, on the request that opened the connection.
                var witness = new WireWitness(socket);
                context.InitialRequestMessage.Options.Set(WireWitness.OptionKey, witness);
                return witness;
            },
            PlaintextStreamFilter = (context, _) => RecordProtocol(context),
            SslOptions = BackendConnector.TlsOptions(null, material.Client, (sender, certificate, chain, errors) =>
                validator.Validate(((SslStream)sender).TargetHostName, certificate, chain, errors)),
        };
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
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

    /// <summary>Remembers the TLS protocol of each new connection, for the envelope's <c>tls.protocol</c>, and that its handshake completed.</summary>
    private ValueTask<Stream> RecordProtocol(SocketsHttpPlaintextStreamFilterContext context)
    {
        if (context.InitialRequestMessage.Options.TryGetValue(WireWitness.OptionKey, out var witness))
        {
            witness.MarkHandshakeCompleted();
        }
        if (context.PlaintextStream is SslStream ssl)
        {
            _protocols[context.InitialRequestMessage.RequestUri!.Authority] = ssl.SslProtocol;
        }
        return ValueTask.FromResult(context.PlaintextStream);
    }
}
