using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Probe;

/// <summary>
/// "Test mutual SSL": for each host a profile owns, resolves, connects and performs the TLS handshake
/// with the profile's certificate, and reports what happened. Nothing is sent beyond the handshake.
/// Two handshakes per host: the first presents no certificate and learns whether the server asks for
/// one and which CAs it names; the second presents ours and watches whether the server keeps the
/// connection (accepted) or drops it (refused). Our certificate is never shown to a server whose own
/// certificate failed validation.
/// </summary>
public sealed class MutualTlsProbe(CertificateStore certificates, BackendConnector connector)
{
    /// <summary>How long a server that accepted the handshake is watched for a late refusal (TLS 1.3 alerts come after it).</summary>
    public static readonly TimeSpan AcceptanceWait = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    public async Task<ProfileProbeReport> ProbeAsync(TlsProfile profile, CancellationToken cancellationToken)
    {
        ProfileMaterial? material = null;
        string? materialProblem = null;
        X509Certificate2Collection? trustedCa = null;
        string? trustedCaProblem = null;
        var entry = certificates.For(profile);
        try
        {
            material = await entry.GetAsync(cancellationToken);
            trustedCa = material.TrustedCa;
        }
        catch (InvokerException e)
        {
            materialProblem = e.Message;
            // Our certificate is unusable, but the backend's can still be judged against the profile's own CA.
            if (entry.TrustedCaSource is { } source)
            {
                try
                {
                    trustedCa = (await source.LoadAsync(cancellationToken)).Certificates;
                }
                catch (CertificateLoadException ca)
                {
                    trustedCaProblem = $"the profile's TrustedCa from {source.Description} could not be loaded: {ca.Message}";
                }
            }
        }
        var hosts = new List<HostProbeReport>();
        foreach (var host in profile.Hosts.OrderBy(h => h.ToString(), StringComparer.Ordinal))
        {
            hosts.Add(await ProbeHostAsync(profile, host, material, trustedCa, new Problems(materialProblem, trustedCaProblem), cancellationToken));
        }
        return new ProfileProbeReport(profile.Name, hosts.All(h => h.Ok), hosts);
    }

    /// <summary>Why our material is missing, if it is: the client certificate's load, the trusted CA's.</summary>
    private sealed record Problems(string? Material, string? TrustedCa);

    private async Task<HostProbeReport> ProbeHostAsync(TlsProfile profile, HostKey host, ProfileMaterial? material,
        X509Certificate2Collection? trustedCa, Problems problems, CancellationToken token)
    {
        var report = new HostProbeReport { Host = host.Host, Port = host.Port };
        if (problems.TrustedCa is not null)
        {
            report.Summary = $"Not probed: {problems.TrustedCa}. Without it the backend's certificate cannot be judged.";
            return report;
        }
        var addresses = await ResolveAsync(host, report, profile, token);
        if (addresses is null)
        {
            return report;
        }
        var validator = new ServerCertificateValidator(trustedCa, profile.ServerCertificatePins);

        // 1: no certificate of ours; learn the server's chain, whether it asks and whom it trusts.
        using (var first = await ConnectAsync(addresses, host.Port, report, token))
        {
            if (first is null)
            {
                return report;
            }
            using var looked = await HandshakeAsync(first, Options(host, report, validator, material: null), report, token, recordTiming: true);
        }
        report.Tls.ClientCertificateRequested ??= report.Tls.HandshakeCompleted == true ? false : null;

        // 2: our certificate, only to a server that proved itself.
        if (report.Tls.ServerCertificateValid != true)
        {
            return Finish(report, material, problems.Material);
        }
        if (material?.Client is { } client && report.Tls.ClientCertificateRequested == true)
        {
            report.Tls.ClientCertificatePresented = client.Subject;
            using var second = await ConnectAsync(addresses, host.Port, report, token);
            if (second is not null)
            {
                using var presented = await HandshakeAsync(second, Options(host, report, validator, material), report, token, recordTiming: false);
                if (presented is not null)
                {
                    await WatchForRefusalAsync(presented, report, token);
                }
                else
                {
                    report.Tls.ClientCertificateAccepted = false;
                    report.Tls.ClientCertificateEvidence ??= "the handshake failed once our certificate was presented";
                }
            }
        }
        return Finish(report, material, problems.Material);
    }

    private async Task<IPAddress[]?> ResolveAsync(HostKey host, HostProbeReport report, TlsProfile profile, CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var addresses = await connector.ResolveAsync(host.Host, profile, token);
            report.Dns.Milliseconds = watch.Elapsed.TotalMilliseconds;
            report.Dns.Addresses.AddRange(addresses.Select(a => a.ToString()));
            report.Dns.Ok = true;
            return addresses;
        }
        catch (TargetAddressNotAllowedException e)
        {
            report.Dns.Milliseconds = watch.Elapsed.TotalMilliseconds;
            report.Dns.Ok = false;
            report.Dns.Error = e.Message;
            report.Summary = $"Not probed: {e.Message.TrimEnd('.')} (the address policy forbids it).";
            return null;
        }
        catch (SocketException e)
        {
            report.Dns.Milliseconds = watch.Elapsed.TotalMilliseconds;
            report.Dns.Ok = false;
            report.Dns.Error = BackendConnector.Describe(e.SocketErrorCode);
            report.Summary = $"The name {host.Host} could not be resolved: {report.Dns.Error}.";
            return null;
        }
    }

    private static async Task<NetworkStream?> ConnectAsync(IPAddress[] addresses, int port, HostProbeReport report, CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(StepTimeout);
        try
        {
            var (socket, address) = await BackendConnector.ConnectAsync(addresses, port, timeout.Token);
            report.Connect.Milliseconds ??= watch.Elapsed.TotalMilliseconds;
            report.Connect.Ok = true;
            if (!report.Connect.Addresses.Contains(address.ToString()))
            {
                report.Connect.Addresses.Add(address.ToString()); // each pass connects; the address is listed once
            }
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            report.Connect.Milliseconds = watch.Elapsed.TotalMilliseconds;
            report.Connect.Ok = false;
            report.Connect.Error = e is SocketException s ? BackendConnector.Describe(s.SocketErrorCode) : $"no answer within {StepTimeout.TotalSeconds:0} s";
            report.Summary = $"Could not connect to {report.Host}:{report.Port}: {report.Connect.Error}.";
            return null;
        }
    }

    private static SslClientAuthenticationOptions Options(HostKey host, HostProbeReport report, ServerCertificateValidator validator, ProfileMaterial? material)
    {
        var options = BackendConnector.TlsOptions(host.Host, material?.Client, (_, certificate, chain, errors) =>
            {
                if (report.Tls.ServerChain.Count == 0)
                {
                    Describe(certificate, chain, report.Tls.ServerChain);
                }
                try
                {
                    validator.Validate(host.Host, certificate, chain, errors);
                    report.Tls.ServerCertificateValid ??= true;
                }
                catch (ServerCertificateRejectedException e)
                {
                    report.Tls.ServerCertificateValid = false;
                    report.Tls.ServerCertificateProblem = e.Message;
                }
                // Pass 1 completes the handshake whatever the verdict (it presents nothing); pass 2 only with a valid server.
                return material is null || report.Tls.ServerCertificateValid == true;
            });
        if (material?.Client is null)
        {
            // .NET calls this once before the handshake (no server certificate yet) and again, with the
            // server's certificate, only when the server asks for ours.
            options.LocalCertificateSelectionCallback = (_, _, _, remote, issuers) =>
            {
                if (remote is not null)
                {
                    report.Tls.ClientCertificateRequested = true;
                    report.Tls.AcceptableIssuers.Clear();
                    report.Tls.AcceptableIssuers.AddRange(issuers ?? []);
                }
                return null!; // present nothing: this pass only looks
            };
        }
        return options;
    }

    private static async Task<SslStream?> HandshakeAsync(NetworkStream stream, SslClientAuthenticationOptions options, HostProbeReport report, CancellationToken token, bool recordTiming)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(StepTimeout);
        var ssl = new SslStream(stream, leaveInnerStreamOpen: true);
        try
        {
            await ssl.AuthenticateAsClientAsync(options, timeout.Token);
            if (recordTiming)
            {
                report.Tls.Milliseconds = watch.Elapsed.TotalMilliseconds;
                report.Tls.HandshakeCompleted = true;
                report.Tls.Ok = report.Tls.ServerCertificateValid != false;
                report.Tls.Protocol = ssl.SslProtocol.ToString();
                report.Tls.CipherSuite = ssl.NegotiatedCipherSuite.ToString();
            }
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            if (recordTiming)
            {
                report.Tls.Milliseconds = watch.Elapsed.TotalMilliseconds;
                report.Tls.HandshakeCompleted = false;
                report.Tls.Ok = false;
                report.Tls.Error = Innermost(e);
            }
            else
            {
                report.Tls.ClientCertificateEvidence = $"the handshake failed: {Innermost(e)}";
            }
            ssl.Dispose();
            return null;
        }
    }

    private static async Task WatchForRefusalAsync(SslStream ssl, HostProbeReport report, CancellationToken token)
    {
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
            wait.CancelAfter(AcceptanceWait);
            try
            {
                var read = await ssl.ReadAsync(new byte[1], wait.Token);
                report.Tls.ClientCertificateAccepted = read > 0 ? null : false;
                report.Tls.ClientCertificateEvidence = read > 0
                    ? "the server sent data before any request (unusual)"
                    : "the server closed the connection right after the handshake: it refused our certificate";
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                report.Tls.ClientCertificateAccepted = true;
                report.Tls.ClientCertificateEvidence =
                    $"the server kept the connection open for {AcceptanceWait.TotalSeconds:0.#} s after the handshake, waiting for a request";
            }
            catch (Exception e) when (e is IOException or AuthenticationException)
            {
                report.Tls.ClientCertificateAccepted = false;
                report.Tls.ClientCertificateEvidence = $"the server ended the connection after the handshake ({Innermost(e)}): it refused our certificate";
            }
        }
    }

    private static HostProbeReport Finish(HostProbeReport report, ProfileMaterial? material, string? materialProblem)
    {
        var tls = report.Tls;
        var protocol = tls.Protocol is null ? "" : $"{tls.Protocol} ({tls.CipherSuite}); ";
        if (tls.ServerCertificateValid == false)
        {
            report.Summary = $"FAIL: {protocol}the server's certificate failed validation: {tls.ServerCertificateProblem}. Our certificate was not presented.";
        }
        else if (tls.HandshakeCompleted != true)
        {
            report.Summary = $"FAIL: the TLS handshake failed: {tls.Error}.";
        }
        else if (tls.ClientCertificateRequested != true && materialProblem is not null)
        {
            report.Summary = $"FAIL: {protocol}the server's certificate is valid and it did not ask for a client certificate, " +
                $"but invocations fail anyway: {materialProblem}";
        }
        else if (tls.ClientCertificateRequested != true)
        {
            report.Ok = true;
            report.Summary = $"OK: {protocol}the server's certificate is valid; the server did not ask for a client certificate" +
                (material?.Client is null ? "." : ", so ours is not used.");
        }
        else if (material?.Client is null)
        {
            report.Summary = materialProblem is null
                ? "FAIL: the server asks for a client certificate, but the profile has none (set ClientCertificate)."
                : $"FAIL: {protocol}the server's certificate is valid and it asks for a client certificate, but ours could not be loaded: {materialProblem}";
        }
        else if (tls.ClientCertificateAccepted == true)
        {
            report.Ok = true;
            report.Summary = $"OK: {protocol}the server's certificate is valid; it asked for a client certificate and accepted ours ({material.Client.Subject}).";
        }
        else
        {
            var issuers = tls.AcceptableIssuers.Count > 0 ? $" It accepts certificates issued by: {string.Join("; ", tls.AcceptableIssuers)}." : "";
            report.Summary = $"FAIL: {protocol}the server refused our client certificate ({material.Client.Subject}, issued by {material.Client.Leaf.Issuer}): " +
                $"{tls.ClientCertificateEvidence}.{issuers}";
        }
        return report;
    }

    private static void Describe(System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, List<CertificateSummary> into)
    {
        IEnumerable<X509Certificate2> certificates = chain?.ChainElements.Select(e => e.Certificate) ?? [];
        if (!certificates.Any() && certificate is not null)
        {
            certificates = [X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())];
        }
        into.AddRange(certificates.Select(c => new CertificateSummary(c.Subject, c.Issuer,
            new DateTimeOffset(c.NotBefore.ToUniversalTime()), new DateTimeOffset(c.NotAfter.ToUniversalTime()))));
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e.Message.TrimEnd('.');
    }
}
