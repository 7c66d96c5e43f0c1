using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Transport;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.Probe;

/// <summary>
/// "Test mutual SSL": for each host a profile owns, resolves, connects and performs the TLS handshake
/// with the profile's certificate, and reports what happened. Two handshakes per host: the first
/// presents no certificate and learns whether the server asks for one and which CAs it names; the
/// second presents ours and sends one <c>GET /</c> (no body) to see whether the server accepts it:
/// an answer means accepted, a closed connection or a refusal page (nginx's 400s) means refused. Our
/// certificate is never shown to a server whose own certificate failed validation.
/// </summary>
internal sealed class MutualTlsProbe(CertificateStore certificates, TokenStore tokens, BackendConnector connector, AcceptedIssuers acceptedIssuers)
{
    /// <summary>How long the probe waits for the answer to its one request after the handshake.</summary>
    public static readonly TimeSpan AnswerWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxStepTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long one step (connect, handshake) may take: the profile's timeout, at most 10 s.</summary>
    private static TimeSpan StepTimeout(TlsProfile profile) => profile.Timeout < MaxStepTimeout ? profile.Timeout : MaxStepTimeout;

    public async Task<ProfileProbeReport> ProbeAsync(TlsProfile profile, CancellationToken cancellationToken)
    {
        ProfileMaterial? material = null;
        string? materialProblem = null;
        string? materialCause = null;
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
            materialCause = e.Cause;
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
            hosts.Add(await ProbeHostAsync(profile, host, material, trustedCa, new Problems(materialProblem, trustedCaProblem, materialCause), cancellationToken));
        }
        var warnings = new List<string>();
        if (material?.Client is { } client)
        {
            warnings.AddRange(client.Problems);
            warnings.AddRange(client.Warnings);
        }
        if (profile.LegacyCryptoWarning is { } legacy)
        {
            warnings.Add(legacy);
        }
        var token = tokens.For(profile) is { } cache ? await ProbeTokenAsync(cache, material, materialProblem, cancellationToken) : null;
        return new ProfileProbeReport(profile.Name, hosts.All(h => h.Ok) && token?.Ok != false, hosts, entry.State.Vault, warnings, token);
    }

    /// <summary>Asks the token endpoint for a token now (the cache keeps it), and says what came back.</summary>
    private static async Task<TokenProbeReport> ProbeTokenAsync(TokenCache cache, ProfileMaterial? material, string? materialProblem, CancellationToken token)
    {
        var settings = cache.Profile.Token!;
        var report = new TokenProbeReport { Endpoint = settings.EndpointName, ClientAuthentication = settings.MethodName };
        if (material is null)
        {
            report.Summary = $"No token was asked for: {materialProblem}";
            return report;
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            var issued = await cache.RequestNowAsync(material, token);
            var binding = TokenBinding.Of(issued);
            // A token bound to another certificate will be refused by a backend that checks the binding.
            report.Ok = binding != TokenBinding.Kind.BoundToAnother;
            report.ExpiresInSeconds = (long)issued.Lifetime.TotalSeconds;
            report.GrantedScopes = issued.Scopes;
            report.Binding = binding switch
            {
                TokenBinding.Kind.Bound => "bound",
                TokenBinding.Kind.BoundToAnother => "bound-to-another",
                TokenBinding.Kind.NotBound => "not-bound",
                _ => "opaque",
            };
            report.Summary = $"{settings.EndpointName} issued a token to client '{settings.ClientId}' ({settings.MethodName}) " +
                $"for {(issued.Scopes.Count == 0 ? "the default scope" : $"scope '{string.Join(' ', issued.Scopes)}'")}, " +
                $"{(issued.ExpiresInGiven ? $"valid {report.ExpiresInSeconds} s" : $"with no expires_in (kept {AccessToken.AssumedLifetime.TotalSeconds:0} s)")}. " +
                TokenBinding.Describe(binding);
        }
        catch (TokenRequestException e)
        {
            report.Summary = e.Message;
            report.Cause = e.Cause;
            report.TokenError = e.TokenError;
        }
        report.Milliseconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1);
        return report;
    }

    /// <summary>Why our material is missing, if it is: the client certificate's load, the trusted CA's.</summary>
    private sealed record Problems(string? Material, string? TrustedCa, string? MaterialCause = null);

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
        var validator = new ServerCertificateValidator(trustedCa, profile.ServerCertificatePins, profile.AllowLegacyServerCrypto);
        var evidence = new FailureClassifier.Evidence(host, profile, PresentedClientCertificate: false, TimedOutAfter: null, Witness: null);

        // 1: no certificate of ours; learn the server's chain, whether it asks and whom it trusts.
        using (var first = await ConnectAsync(addresses, host.Port, report, StepTimeout(profile), token))
        {
            if (first is null)
            {
                return report;
            }
            using var looked = await HandshakeAsync(first, Options(host, report, validator, material: null), report, evidence, token, recordTiming: true);
            if (looked is not null && report.Tls.ClientCertificateRequested != true && report.Tls.ServerCertificateValid == true)
            {
                await CheckAnswerAsync(looked, first, host, report, evidence, token);
            }
        }
        report.Tls.ClientCertificateRequested ??= report.Tls.HandshakeCompleted == true ? false : null;
        if (report.Tls.ClientCertificateRequested == true)
        {
            acceptedIssuers.Record(profile, host, report.Tls.AcceptableIssuers, "seen by the probe");
        }
        if (report.Tls.ServerChain.Count > 0 && profile.AllowLegacyServerCrypto
            && ServerCertificateValidator.LegacyCrypto(report.Tls.ServerChainCertificates) is { } legacy)
        {
            report.Warnings.Add($"accepted only because AllowLegacyServerCrypto is set: {legacy}");
        }

        // 2: our certificate, only to a server that proved itself — or, when pass 1 failed for want of a client
        // certificate, to one not yet judged: .NET judges the server's certificate once the handshake is done: a pass 1 that failed because we
        // sent no certificate has not judged it yet. Pass 2's own validation then decides before any request.
        var needsCertificate = report.Tls.Cause == FailureCauses.ClientCertificateMissing;
        if (needsCertificate)
        {
            report.Tls.ClientCertificateRequested = true;
        }
        if (report.Tls.ServerCertificateValid != true && !(needsCertificate && report.Tls.ServerCertificateValid is null))
        {
            return Finish(report, material, problems);
        }
        if (material?.Client is { } client && report.Tls.ClientCertificateRequested == true)
        {
            report.Tls.ClientCertificatePresented = client.Subject;
            using var second = await ConnectAsync(addresses, host.Port, report, StepTimeout(profile), token);
            if (second is not null)
            {
                var ours = evidence with { PresentedClientCertificate = true };
                using var presented = await HandshakeAsync(second, Options(host, report, validator, material), report, ours, token, recordTiming: false);
                if (presented is not null)
                {
                    report.Tls.HandshakeCompleted = true;
                    report.Tls.Ok = true;
                    report.Tls.Error = null;
                    await AskAsync(presented, second, host, report, ours, token);
                }
                else
                {
                    report.Tls.ClientCertificateAccepted = report.Tls.Cause == FailureCauses.ClientCertificateRefused ? false : null;
                }
            }
        }
        return Finish(report, material, problems);
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
            report.Dns.Error = SocketErrors.Describe(e.SocketErrorCode);
            report.Tls.Cause = FailureCauses.Dns;
            report.Summary = $"The name {host.Host} could not be resolved: {report.Dns.Error}.";
            return null;
        }
    }

    private static async Task<WireWitness?> ConnectAsync(IPAddress[] addresses, int port, HostProbeReport report, TimeSpan step, CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(step);
        try
        {
            var (socket, address) = await BackendConnector.ConnectAsync(addresses, port, timeout.Token);
            report.Connect.Milliseconds ??= watch.Elapsed.TotalMilliseconds;
            report.Connect.Ok = true;
            if (!report.Connect.Addresses.Contains(address.ToString()))
            {
                report.Connect.Addresses.Add(address.ToString()); // each pass connects; the address is listed once
            }
            return new WireWitness(socket);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            report.Connect.Milliseconds = watch.Elapsed.TotalMilliseconds;
            report.Connect.Ok = false;
            report.Connect.Error = e is SocketException s ? SocketErrors.Describe(s.SocketErrorCode) : $"no answer within {step.TotalSeconds:0.###} s";
            report.Tls.Cause = e is SocketException { SocketErrorCode: SocketError.ConnectionRefused } ? FailureCauses.ConnectionRefused : FailureCauses.Connection;
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
                    Describe(certificate, chain, report.Tls);
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

    private static async Task<SslStream?> HandshakeAsync(WireWitness stream, SslClientAuthenticationOptions options, HostProbeReport report,
        FailureClassifier.Evidence evidence, CancellationToken token, bool recordTiming)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(StepTimeout(evidence.Profile));
        var ssl = new SslStream(stream, leaveInnerStreamOpen: true);
        try
        {
            await ssl.AuthenticateAsClientAsync(options, timeout.Token);
            stream.MarkHandshakeCompleted();
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
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException && !token.IsCancellationRequested)
        {
            var diagnosis = FailureClassifier.Diagnose(e, evidence with
            {
                Witness = stream,
                TimedOutAfter = e is OperationCanceledException ? StepTimeout(evidence.Profile) : null,
            });
            if (recordTiming)
            {
                report.Tls.Milliseconds = watch.Elapsed.TotalMilliseconds;
                report.Tls.HandshakeCompleted = false;
                report.Tls.Ok = false;
                report.Tls.Error = diagnosis.Text;
                report.Tls.Cause = diagnosis.Cause;
            }
            else
            {
                report.Tls.ClientCertificateEvidence = diagnosis.Text;
                report.Tls.Cause = diagnosis.Cause;
            }
            ssl.Dispose();
            return null;
        }
    }

    /// <summary>
    /// Finishes the check with one real request over the connection that presented our certificate:
    /// a server that refuses after the handshake either ends the connection (a late TLS alert, always
    /// so under TLS 1.3) or answers with a refusal page (nginx's 400s, IIS's 403.x; see CertificateRefusal).
    /// Any other answer means our certificate was accepted.
    /// </summary>
    private static async Task AskAsync(SslStream ssl, WireWitness wire, HostKey host, HostProbeReport report, FailureClassifier.Evidence evidence, CancellationToken token)
    {
        var (bytes, error, waited) = await ExchangeAsync(ssl, host, token);
        if (bytes.Length == 0)
        {
            if (waited)
            {
                report.Tls.ClientCertificateAccepted = true;
                report.Tls.ClientCertificateEvidence =
                    $"the server kept the connection open for {AnswerWait.TotalSeconds:0} s after our GET / without answering or refusing";
                return;
            }
            Refused(report, FailureClassifier.Diagnose(error ?? new IOException("The response ended prematurely."), evidence with { Witness = wire }));
            return;
        }
        if (StatusOf(bytes) is not { } status)
        {
            report.Tls.ClientCertificateAccepted = null;
            report.Tls.ClientCertificateEvidence = "the server answered GET / with something that is not HTTP";
            return;
        }
        report.Tls.HttpStatus = status;
        var headEnd = System.Text.Encoding.Latin1.GetString(bytes).IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = headEnd < 0 ? [] : bytes.AsSpan(headEnd + 4);
        if (CertificateRefusal.Recognise(status, body) is { } why)
        {
            report.Tls.ClientCertificateAccepted = false;
            report.Tls.Cause = FailureCauses.ClientCertificateRefused;
            report.Tls.ClientCertificateEvidence = $"the handshake completed, then the server answered GET / with {status} and its certificate-refusal page: {why}";
            return;
        }
        report.Tls.ClientCertificateAccepted = true;
        report.Tls.ClientCertificateEvidence = $"the server answered GET / with HTTP {status} over the connection that presented our certificate";
    }

    /// <summary>
    /// A server that did not ask for a client certificate: one <c>GET /</c> over the first connection shows
    /// whether it answers at all (a backend that closes every connection after the handshake is not "OK").
    /// </summary>
    private static async Task CheckAnswerAsync(SslStream ssl, WireWitness wire, HostKey host, HostProbeReport report, FailureClassifier.Evidence evidence, CancellationToken token)
    {
        var (bytes, error, waited) = await ExchangeAsync(ssl, host, token);
        if (bytes.Length > 0)
        {
            report.Tls.HttpStatus = StatusOf(bytes);
            return;
        }
        if (!waited)
        {
            var diagnosis = FailureClassifier.Diagnose(error ?? new IOException("The response ended prematurely."),
                evidence with { Witness = wire, ServerAskedForCertificate = false });
            report.Tls.Cause = diagnosis.Cause;
            report.Tls.Error = diagnosis.Text;
        }
    }

    /// <summary>Sends one <c>GET /</c> and reads what comes back within <see cref="AnswerWait"/>.</summary>
    /// <returns>The bytes received, the error that ended the read (if any), and whether the wait ran out with the connection open.</returns>
    private static async Task<(byte[] Bytes, Exception? Error, bool Waited)> ExchangeAsync(SslStream ssl, HostKey host, CancellationToken token)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
        wait.CancelAfter(AnswerWait);
        var received = new List<byte>();
        try
        {
            var hostHeader = host.Port == 443 ? host.Host : $"{host.Host}:{host.Port}";
            await ssl.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
                $"GET / HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: service-node-invoker-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"), wait.Token);
            var buffer = new byte[4096];
            int read;
            while (received.Count < CertificateRefusal.InspectBytes + 4096 && (read = await ssl.ReadAsync(buffer, wait.Token)) > 0)
            {
                received.AddRange(buffer.AsSpan(0, read));
            }
            return (received.ToArray(), null, false);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return (received.ToArray(), null, true);
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            return (received.ToArray(), e, false);
        }
    }

    private static int? StatusOf(byte[] bytes)
    {
        var end = Array.IndexOf(bytes, (byte)'\r');
        var statusLine = System.Text.Encoding.ASCII.GetString(bytes, 0, end >= 0 ? end : bytes.Length);
        var parts = statusLine.Split(' ', 3);
        return parts.Length >= 2 && parts[0].StartsWith("HTTP/", StringComparison.Ordinal) && int.TryParse(parts[1], out var status) ? status : null;
    }

    /// <summary>The connection that presented our certificate ended without an answer: the classifier says whether that is a refusal.</summary>
    private static void Refused(HostProbeReport report, Diagnosis diagnosis)
    {
        report.Tls.Cause = diagnosis.Cause;
        report.Tls.ClientCertificateAccepted = diagnosis.ClientCertificateRefused ? false : null;
        report.Tls.ClientCertificateEvidence = diagnosis.Text;
    }

    private static HostProbeReport Finish(HostProbeReport report, ProfileMaterial? material, Problems problems)
    {
        var tls = report.Tls;
        var protocol = tls.Protocol is null ? "" : $"{tls.Protocol} ({tls.CipherSuite}); ";
        var presented = tls.ClientCertificatePresented is not null;
        var ours = problems.MaterialCause switch
        {
            FailureCauses.ClientCertificateExpired => "ours has expired",
            FailureCauses.ClientCertificateNotYetValid => "ours is not valid yet",
            _ => "ours could not be loaded",
        };
        // Every failure names its cause, as an invocation's reply would: the server's certificate, ours, or what the handshake showed.
        if (tls.ServerCertificateValid == false)
        {
            tls.Cause = FailureCauses.ServerCertificate;
            report.Summary = $"FAIL: {protocol}the server's certificate failed validation: {tls.ServerCertificateProblem}. Our certificate was not presented.";
        }
        else if (tls.HandshakeCompleted != true && !presented)
        {
            if (tls.Cause == FailureCauses.ClientCertificateMissing && problems.Material is not null)
            {
                tls.Cause = OurCause(problems);
                report.Summary = $"FAIL: the server's certificate is valid and it requires a client certificate, but {ours}: {problems.Material}";
            }
            else
            {
                report.Summary = $"FAIL: {tls.Error}";
            }
        }
        else if (tls.ClientCertificateRequested != true && problems.Material is not null)
        {
            tls.Cause = OurCause(problems);
            report.Summary = $"FAIL: {protocol}the server's certificate is valid and it did not ask for a client certificate, " +
                $"but invocations fail anyway: {problems.Material}";
        }
        else if (tls.ClientCertificateRequested != true && tls.Cause is not null)
        {
            report.Summary = $"FAIL: {protocol}the server's certificate is valid and it did not ask for a client certificate, but {tls.Error}";
        }
        else if (tls.ClientCertificateRequested != true)
        {
            report.Ok = true;
            report.Summary = $"OK: {protocol}the server's certificate is valid; the server did not ask for a client certificate" +
                (material?.Client is null ? "." : ", so ours is not used.");
        }
        else if (material?.Client is null)
        {
            tls.Cause = problems.Material is null ? FailureCauses.ClientCertificateMissing : OurCause(problems);
            report.Summary = problems.Material is null
                ? "FAIL: the server asks for a client certificate, but the profile has none (set ClientCertificate)."
                : $"FAIL: {protocol}the server's certificate is valid and it asks for a client certificate, but {ours}: {problems.Material}";
        }
        else if (tls.ClientCertificateAccepted == true)
        {
            report.Ok = true;
            report.Summary = $"OK: {protocol}the server's certificate is valid; it asked for a client certificate and accepted ours ({LogText.Quote(material.Client.Subject)}).";
        }
        else if (tls.ClientCertificateAccepted == false)
        {
            var issuers = tls.AcceptableIssuers.Count > 0 ? $" It accepts certificates issued by: {LogText.QuoteList(tls.AcceptableIssuers, "; ")}." : "";
            var hints = material.Client.Problems.Concat(material.Client.Warnings).Select(h => $" Likely why: {h}.");
            report.Summary = $"FAIL: {protocol}the server refused our client certificate ({LogText.Quote(material.Client.Subject)}, issued by {LogText.Quote(material.Client.Leaf.Issuer)}): " +
                $"{tls.ClientCertificateEvidence?.TrimEnd('.')}.{issuers}{string.Concat(hints)}";
        }
        else
        {
            // Neither accepted nor refused on evidence: say what happened, without blaming our certificate.
            report.Summary = $"FAIL: {protocol}the server's certificate is valid and it asked for a client certificate; with ours presented: " +
                $"{tls.ClientCertificateEvidence?.TrimEnd('.')}.";
        }
        return report;
    }

    /// <summary>The cause an invocation would give for our unusable certificate (503 certificate-unavailable).</summary>
    private static string OurCause(Problems problems) => problems.MaterialCause ?? FailureCauses.CertificateLoadFailed;

    private static void Describe(System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, TlsReport into)
    {
        var certificates = chain?.ChainElements.Select(e => e.Certificate).ToList() ?? [];
        if (certificates.Count == 0 && certificate is not null)
        {
            certificates = [X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())];
        }
        into.ServerChainCertificates.AddRange(certificates);
        into.ServerChain.AddRange(certificates.Select(c => new CertificateSummary(c.Subject, c.Issuer,
            CertificateFacts.NotBefore(c), CertificateFacts.NotAfter(c))
        {
            SubjectAlternativeNames = CertificateFacts.SubjectAlternativeNames(c),
            ThumbprintSha256 = CertificateFacts.ThumbprintSha256(c),
            SpkiPin = CertificateFacts.SpkiPin(c),
            Key = CertificateFacts.KeyDescription(c),
            SignatureAlgorithm = CertificateFacts.SignatureAlgorithm(c),
        }));
    }
}
