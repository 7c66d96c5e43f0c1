using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Transport;

/// <summary>
/// The one way to reach a backend, shared by the transport and the probe: resolve (or take the IP
/// literal), check every address against the address policy before any is dialled, connect to the
/// first that answers, and the TLS client options every connection uses. Its wording of socket
/// errors is the one every diagnosis uses.
/// </summary>
internal sealed class BackendConnector(AddressPolicy policy, HostResolver resolver)
{
    /// <summary>The addresses to dial, distinct, in resolver order. Throws <see cref="TargetAddressNotAllowedException"/> when any is forbidden.</summary>
    public async Task<IPAddress[]> ResolveAsync(string host, TlsProfile profile, CancellationToken token)
    {
        var bare = host.Trim('[', ']');
        var addresses = IPAddress.TryParse(bare, out var literal)
            ? [literal]
            : (await resolver.ResolveAsync(bare, token)).Distinct().ToArray();
        // Every address is checked before any is dialled: one bad answer refuses the name (DNS rebinding).
        foreach (var address in addresses)
        {
            if (policy.Violation(address, profile.AllowPrivateNetwork) is { } rule)
            {
                throw new TargetAddressNotAllowedException(host, rule);
            }
        }
        return addresses.Length > 0 ? addresses : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>Connects to the first address that accepts; throws the last socket error when none does.</summary>
    public static async Task<(Socket Socket, IPAddress Address)> ConnectAsync(IReadOnlyList<IPAddress> addresses, int port, CancellationToken token)
    {
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, port, token);
                return (socket, address);
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
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// The TLS client options of every backend connection: the leaf and intermediates on the wire (through
    /// a certificate context: ClientCertificates would send the leaf alone on Linux), no revocation check,
    /// no session resumption (a resumed session carries the identity of the handshake it came from: after a
    /// rotation the old certificate, and .NET servers see no client certificate at all on it).
    /// </summary>
    public static SslClientAuthenticationOptions TlsOptions(string? targetHost, ClientCertificate? client, RemoteCertificateValidationCallback validation) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = client is null ? null : SslStreamCertificateContext.Create(client.Leaf, client.Intermediates, offline: true),
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowTlsResume = false,
        RemoteCertificateValidationCallback = validation,
    };
}
