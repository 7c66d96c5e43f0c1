using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// How a profile's transport reaches the wire: the handler each <see cref="ProfileTransport"/> sends through. The
/// product's is <see cref="MutualTlsHandlers"/>; a test gives its own handler to drive everything above the socket
/// (the pipeline's modes, limits, header policy, failure mapping and token step) in-process.
/// </summary>
internal interface IBackendHandlers
{
    /// <param name="connected">Called with each new connection's TLS protocol, by host:port (the envelope's <c>tls.protocol</c>).</param>
    HttpMessageHandler Create(TlsProfile profile, ProfileMaterial material, Action<Uri, SslProtocols> connected);
}

/// <summary>
/// The pooled mutual-TLS handler of one (profile, certificate material): every connection goes through the one
/// <see cref="BackendConnector"/> (address policy, then a <see cref="WireWitness"/> on the socket), presents the
/// profile's client certificate with its chain and checks the server by the profile's trust and pins.
/// </summary>
internal sealed class MutualTlsHandlers(BackendConnector connector) : IBackendHandlers
{
    public HttpMessageHandler Create(TlsProfile profile, ProfileMaterial material, Action<Uri, SslProtocols> connected)
    {
        var validator = new ServerCertificateValidator(material.TrustedCa, profile.ServerCertificatePins, profile.AllowLegacyServerCrypto);
        return new SocketsHttpHandler
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
                var addresses = await connector.ResolveAsync(context.DnsEndPoint.Host, profile, token);
                var (socket, _) = await BackendConnector.ConnectAsync(addresses, context.DnsEndPoint.Port, token);
                // What the server sends during the handshake is kept for the failure classifier, on the request that opened the connection.
                var witness = new WireWitness(socket);
                WireWitness.Attach(context.InitialRequestMessage, witness);
                return witness;
            },
            PlaintextStreamFilter = (context, _) =>
            {
                // The handshake completed: remembered for the classifier, and the protocol for the envelope.
                if (WireWitness.Of(context.InitialRequestMessage) is { } witness)
                {
                    witness.MarkHandshakeCompleted();
                }
                if (context.PlaintextStream is SslStream ssl)
                {
                    connected(context.InitialRequestMessage.RequestUri!, ssl.SslProtocol);
                }
                return ValueTask.FromResult(context.PlaintextStream);
            },
            SslOptions = BackendConnector.TlsOptions(null, material.Client, (sender, certificate, chain, errors) =>
                validator.Validate(((SslStream)sender).TargetHostName, certificate, chain, errors)),
        };
    }
}
