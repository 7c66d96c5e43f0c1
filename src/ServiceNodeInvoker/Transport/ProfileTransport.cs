using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// One pooled mutual-TLS handler for one (profile, certificate material). Requests hold a lease;
/// once retired (a rotation) it is disposed when the last lease ends, so in-flight calls finish.
/// </summary>
public sealed class ProfileTransport
{
    private readonly ConcurrentDictionary<string, SslProtocols> _protocols = new();
    private int _references = 1; // the pool's own reference, released on Retire

    public ProfileTransport(TlsProfile profile, ProfileMaterial material, AddressPolicy policy, HostResolver resolver)
    {
        Profile = profile;
        Material = material;
        var validator = new ServerCertificateValidator(material.TrustedCa, profile.ServerCertificatePins);
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
            ConnectCallback = (context, token) => ConnectAsync(context, policy, resolver, token),
            PlaintextStreamFilter = (context, _) => RecordProtocol(context),
            SslOptions = new SslClientAuthenticationOptions
            {
                // Leaf and intermediates on the wire: ClientCertificates would send the leaf alone on Linux.
                ClientCertificateContext = material.Client is { } client
                    ? SslStreamCertificateContext.Create(client.Leaf, client.Intermediates, offline: true)
                    : null,
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                // A resumed session carries the identity of the handshake it came from: after a rotation that
                // would be the old certificate, and .NET servers see no client certificate at all on it.
                // Connections are pooled, so full handshakes are rare.
                AllowTlsResume = false,
                RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                    validator.Validate(((SslStream)sender).TargetHostName, certificate, chain, errors),
            },
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

    /// <summary>Remembers the TLS protocol of each new connection, for the envelope's <c>tls.protocol</c>.</summary>
    private ValueTask<Stream> RecordProtocol(SocketsHttpPlaintextStreamFilterContext context)
    {
        if (context.PlaintextStream is SslStream ssl)
        {
            _protocols[context.InitialRequestMessage.RequestUri!.Authority] = ssl.SslProtocol;
        }
        return ValueTask.FromResult(context.PlaintextStream);
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, AddressPolicy policy, HostResolver resolver, CancellationToken token)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await resolver.ResolveAsync(host, token);
        // Every address is checked before any is dialled: one bad answer refuses the name.
        foreach (var address in addresses)
        {
            if (policy.Violation(address, Profile.AllowPrivateNetwork) is { } rule)
            {
                throw new TargetAddressNotAllowedException(host, rule);
            }
        }
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, context.DnsEndPoint.Port, token);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }
}
