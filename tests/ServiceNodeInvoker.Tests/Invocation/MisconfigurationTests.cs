using System.Security.Cryptography;
using ServiceNodeInvoker.Invocation;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// What partners get wrong, one real server each (nginx with its own configuration, Python's OpenSSL
/// server, Kestrel, raw sockets that send exactly the bytes such servers send): for every case the
/// invocation's status, code and cause, a detail that names that cause and not another, the probe naming
/// it too, and the early certificate re-read happening only when the backend really refused our certificate.
/// </summary>
public sealed class MisconfigurationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>What blames our certificate; never said when the cause is elsewhere.</summary>
    private const string BlamesOurCertificate = "refused our client certificate";
    private const string EarlyReread = "re-reading it early";

    /// <param name="Start">Starts the backend; returns it and its port.</param>
    /// <param name="Profile">The profile for the port (default: the standard one, root as TrustedCa, RSA client with its intermediate).</param>
    /// <param name="DetailSays">Phrases the problem's detail must hold.</param>
    /// <param name="ProbeSays">A phrase the probe's summary for the host must hold.</param>
    private sealed record Case(
        Func<Task<(IAsyncDisposable Backend, int Port)>> Start,
        int Status, string Code, string? Cause, string[] DetailSays, string ProbeSays,
        Func<TempFiles, int, ProfileSettings>? Profile = null, bool ProbeOk = false, double? TimeoutSeconds = null, string? ProbeCause = null);

    // ---- raw sockets: exactly the bytes such servers send ----

    private static readonly Dictionary<string, Case> Raw = new()
    {
        ["an SSH port"] = new(() => Socket(RawSocketServer.Banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"u8.ToArray())),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.NotTls, ["does not speak TLS", "SSH-2.0-OpenSSH_9.2p1"], "does not speak TLS"),
        ["an SMTP port"] = new(() => Socket(RawSocketServer.Banner("220 mail.contoso.example ESMTP Postfix (Debian/GNU)\r\n"u8.ToArray())),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.NotTls, ["does not speak TLS", "220 mail.contoso.example ESMTP"], "220 mail.contoso.example"),
        ["Python's http.server (an error page without a status line)"] = new(() => Socket(RawSocketServer.AnswerHello(
                "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        <p>Error code: 400</p>\n    </body>\n</html>\n"u8.ToArray())),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.PlainHttp, ["plain HTTP", "not a TLS port"], "plain HTTP"),
        ["a port that accepts and never answers the hello"] = new(() => Socket(RawSocketServer.Silent()),
            504, ErrorCodes.BackendTimeout, FailureCauses.HandshakeNoAnswer, ["TLS handshake", "never got an answer", "sent nothing back within 1 s"],
            "never got an answer", Profile: (f, port) => Standard(f, port).Set("payments", "Timeout", "2"), TimeoutSeconds: 1),
        ["a server that starts its answer and stalls"] = new(() => Socket(RawSocketServer.AnswerHelloAndHold([0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00])),
            504, ErrorCodes.BackendTimeout, FailureCauses.HandshakeStalled, ["started (7 bytes came back) but did not finish within 1 s"],
            "did not finish", Profile: (f, port) => Standard(f, port).Set("payments", "Timeout", "2"), TimeoutSeconds: 1),
        ["a port that closes at once"] = new(() => Socket(RawSocketServer.CloseAtOnce()),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClosedDuringHandshake, ["the connection without answering our TLS hello"], "without answering our TLS hello"), // closed, or reset if our hello arrives after the close
        ["a firewall that resets after the hello"] = new(() => Socket(RawSocketServer.ResetAfterHello()),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClosedDuringHandshake, ["reset the connection without answering our TLS hello"], "reset the connection"),
        ["a server that only speaks TLS 1.0 (protocol_version alert)"] = new(() => Socket(RawSocketServer.AnswerHello([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70])),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ProtocolVersion, ["protocol_version", "neither TLS 1.2 nor TLS 1.3"], "neither TLS 1.2 nor TLS 1.3"),
        ["a server that answers with a TLS 1.0 ServerHello"] = new(() => Socket(RawSocketServer.AnswerHello(Tls10ServerHello())),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ProtocolVersion, ["chose TLS 1.0", "TLS 1.2 or later"], "chose TLS 1.0"),
        ["a server with no cipher in common (handshake_failure before its hello)"] = new(() => Socket(RawSocketServer.AnswerHello([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40])),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.NoSharedCipher, ["handshake_failure", "no TLS version, cipher suite or key exchange"], "modern cipher suites"),
        ["a server that does not know the host name (unrecognized_name)"] = new(() => Socket(RawSocketServer.AnswerHello([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112])),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.UnrecognizedName, ["unrecognized_name", "SNI"], "SNI"),
        ["a server failing inside (internal_error)"] = new(() => Socket(RawSocketServer.AnswerHello([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80])),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerAlert, ["internal_error", "on the backend's side"], "internal_error"),
        ["a closed port"] = new(ClosedPort,
            502, ErrorCodes.BackendUnreachable, FailureCauses.ConnectionRefused, ["connection refused (nothing listens on that port)"], "connection refused"),
    };

    // ---- nginx, configured the way partners misconfigure it ----

    private static readonly Dictionary<string, Case> Nginx = new()
    {
        ["nginx: a plain-HTTP port"] = new(() => NginxAsync((prefix, port) => Task.FromResult(
                $"server {{ listen 127.0.0.1:{port}; location / {{ return 200 'plain'; }} }}")),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.PlainHttp, ["plain HTTP", "HTTP/1.1 400 Bad Request", "not a TLS port"], "plain HTTP"),
        ["nginx: an expired server certificate"] = new(() => NginxTls(OddCertificates.Leaf(["localhost"], DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow.AddDays(-2))),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["'CN=localhost' expired on", "must renew it"], "expired on"),
        ["nginx: a server certificate not valid yet"] = new(() => NginxTls(OddCertificates.Leaf(["localhost"], DateTimeOffset.UtcNow.AddDays(2), DateTimeOffset.UtcNow.AddDays(60))),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["is not valid yet", "validity starts"], "is not valid yet"),
        ["nginx: the intermediate not sent (ssl_certificate without the chain)"] = new(() => NginxTls(Pki.Server, chain: []),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["whose issuer 'CN=Test Intermediate CA' is neither sent by the backend nor in the profile's TrustedCa", "full chain"], "neither sent by the backend"),
        ["nginx: a chain to a root not in TrustedCa"] = new(() => NginxTls(Pki.UntrustedServer, chain: [.. Pki.OtherIntermediate.Intermediates(), X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData)]),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["ends at the root 'CN=Unrelated Root CA', which is not in the profile's TrustedCa"], "Unrelated Root CA"),
        ["nginx: a self-signed server certificate"] = new(() => NginxTls(OddCertificates.SelfSigned(["localhost"]), chain: []),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["is self-signed and not in the profile's TrustedCa"], "self-signed"),
        ["nginx: a certificate for another name"] = new(() => NginxTls(Pki.WrongNameServer),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["not valid for the host name 'localhost'", "it names backend.other.example"], "it names backend.other.example"),
        ["nginx: a 1024-bit RSA server key"] = new(() => NginxTls(OddCertificates.Leaf(["localhost"], rsaBits: 1024), legacy: true),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["1024-bit RSA key", "AllowLegacyServerCrypto"], "1024-bit RSA key"),
        ["nginx: a SHA-1 signed server certificate"] = new(() => NginxTls(OddCertificates.Leaf(["localhost"], hash: HashAlgorithmName.SHA1), legacy: true),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["signed with SHA-1", "AllowLegacyServerCrypto"], "SHA-1"),
        ["nginx: a client certificate installed as the server's"] = new(() => NginxTls(OddCertificates.Leaf(["localhost"], eku: OddCertificates.ClientAuth)),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["not made for servers"], "not made for servers"),
        ["nginx: a pin that no longer matches"] = new(() => NginxTls(Pki.Server),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate, ["ServerCertificatePins", "'CN=localhost' sha256/"], "ServerCertificatePins",
            Profile: (f, port) => Standard(f, port).Set("payments", "ServerCertificatePins:0", "sha256/" + Convert.ToBase64String(new byte[32]))),
        ["nginx: TLS 1.0 only"] = new(() => NginxTls(Pki.Server, extra: "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;"),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.NoSharedCipher, ["TLS 1.2 or later"], "TLS 1.2 or later"),
        ["nginx: a client certificate required, the profile has none"] = new(() => NginxTls(Pki.Server, clientCa: Pki.RootPublic),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing, ["No required SSL certificate was sent", "the profile has none"], "the profile has none",
            Profile: (f, port) => new ProfileSettings().Add("payments", port, pfxPath: null, trustedCaPath: f.CertificatePem("root.pem", Pki.RootPublic))),
        ["nginx: our certificate from a CA it does not trust"] = new(() => NginxTls(Pki.Server, clientCa: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData)),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, ["The SSL certificate error", "CN=bot-client-rsa"], BlamesOurCertificate),
        ["nginx: our leaf sent without its intermediate"] = new(() => NginxTls(Pki.Server, clientCa: Pki.RootPublic),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, ["The SSL certificate error"], "sent without its issuer 'CN=Test Intermediate CA'",
            Profile: (f, port) => new ProfileSettings().Add("payments", port, f.Pfx("leaf-only.pfx", ProfileSettings.Password, Pki.ClientRsa), f.CertificatePem("root.pem", Pki.RootPublic))),
        ["nginx: a server certificate used as our client certificate"] = new(() => NginxTls(Pki.Server, clientCa: Pki.RootPublic),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, ["The SSL certificate error"], "not made for client authentication",
            Profile: (f, port) => new ProfileSettings().Add("payments", port, f.Pfx("server-as-client.pfx", ProfileSettings.Password, OddCertificates.Leaf(["bot-as-server"]), Pki.IntermediatePublic),
                f.CertificatePem("root.pem", Pki.RootPublic))),
        ["nginx: our certificate has expired"] = new(() => NginxTls(Pki.Server, clientCa: Pki.RootPublic),
            503, ErrorCodes.CertificateUnavailable, FailureCauses.ClientCertificateExpired, ["expired on"], "ours has expired",
            Profile: (f, port) => new ProfileSettings().Add("payments", port,
                f.Pfx("expired.pfx", ProfileSettings.Password, Pki.Intermediate.IssueClient("expired-bot", notAfter: DateTimeOffset.UtcNow.AddDays(-1)), Pki.IntermediatePublic),
                f.CertificatePem("root.pem", Pki.RootPublic))),
        ["nginx: TrustedCa holds the partner's issuing intermediate"] = new(() => NginxTls(Pki.Server, clientCa: Pki.RootPublic),
            200, "", null, [], "OK:", ProbeOk: true,
            Profile: (f, port) => new ProfileSettings().Add("payments", port, f.Pfx("client.pfx", ProfileSettings.Password, Pki.ClientRsa, Pki.IntermediatePublic),
                f.CertificatePem("intermediate.pem", Pki.IntermediatePublic))),
        ["nginx: the URL's port is not the one the profile owns"] = new(() => NginxTls(Pki.Server),
            403, ErrorCodes.TargetNotAllowed, null, ["owned on another port", "profile 'payments' owns localhost:"], "OK:", ProbeOk: true),
    };

    // ---- OpenSSL as the server (Python's ssl module): refusals by TLS alert ----
    // Under TLS 1.3 the alert comes after our side of the handshake is done: depending on timing we read it
    // (the detail names it: unknown_ca, certificate_required) or our request's write meets the reset first
    // (the detail says what it observed: a reset right after the handshake). Both give the same cause.

    private static readonly Dictionary<string, Case> Python = new()
    {
        ["OpenSSL server, TLS 1.3: our certificate from a CA it does not trust"] = new(() => PythonAsync(OtherRootPublic, maxTls12: false),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, [BlamesOurCertificate], BlamesOurCertificate,
            ProbeCause: FailureCauses.ClientCertificateRefused),
        ["OpenSSL server, TLS 1.2: our certificate from a CA it does not trust"] = new(() => PythonAsync(OtherRootPublic, maxTls12: true),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, [BlamesOurCertificate, "unknown_ca"], "unknown_ca",
            ProbeCause: FailureCauses.ClientCertificateRefused),
        ["OpenSSL server, TLS 1.3: a client certificate required, the profile has none"] = new(() => PythonAsync(Pki.RootPublic, maxTls12: false),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing, ["has none", "set ClientCertificate"], "set ClientCertificate",
            Profile: (f, port) => new ProfileSettings().Add("payments", port, pfxPath: null, trustedCaPath: f.CertificatePem("root.pem", Pki.RootPublic))),
        ["OpenSSL server, TLS 1.2: a client certificate required, the profile has none"] = new(() => PythonAsync(Pki.RootPublic, maxTls12: true),
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateMissing, ["asked for a client certificate", "set ClientCertificate"], "set ClientCertificate",
            Profile: (f, port) => new ProfileSettings().Add("payments", port, pfxPath: null, trustedCaPath: f.CertificatePem("root.pem", Pki.RootPublic))),
        ["OpenSSL server, TLS 1.2, no client certificate asked: closes before answering"] = new(() => PythonAsync(null, maxTls12: true, closeAfterHandshake: true),
            502, ErrorCodes.BackendUnreachable, FailureCauses.ClosedAfterHandshake, ["the connection after the TLS handshake without answering", "not about ours"], "without answering"), // closed or reset, by timing
        ["OpenSSL server: our leaf and intermediate accepted"] = new(() => PythonAsync(Pki.RootPublic, maxTls12: false),
            200, "", null, [], "accepted ours", ProbeOk: true),
    };

    // ---- Kestrel (ASP.NET Core) refusing after the handshake ----

    private static readonly Dictionary<string, Case> Kestrel = new()
    {
        ["Kestrel: our certificate from a CA it does not trust"] = new(async () =>
            {
                var backend = await Pki.StartBackendAsync(clientRoot: OtherRootPublic);
                return (backend, backend.Port);
            },
            502, ErrorCodes.TlsHandshakeFailed, FailureCauses.ClientCertificateRefused, ["the connection right after the TLS handshake", "most likely refused our client certificate"], // closed or reset, by timing
            BlamesOurCertificate),
    };

    public static IEnumerable<object[]> RawCases => Raw.Keys.Concat(Kestrel.Keys).Select(k => new object[] { k });
    public static IEnumerable<object[]> NginxCases => Nginx.Keys.Select(k => new object[] { k });
    public static IEnumerable<object[]> PythonCases => Python.Keys.Select(k => new object[] { k });

    [Fact]
    public void At_least_twenty_misconfigurations_are_run()
    {
        Assert.True(Raw.Count + Nginx.Count + Python.Count + Kestrel.Count >= 20);
        Assert.True(Raw.Values.Concat(Nginx.Values).Concat(Python.Values).Concat(Kestrel.Values).Select(c => c.Cause).Distinct().Count() >= 14);
    }

    [Theory]
    [MemberData(nameof(RawCases))]
    public Task Raw_and_kestrel_backends(string name) => RunAsync(name, Raw.GetValueOrDefault(name) ?? Kestrel[name]);

    [NginxTheory]
    [MemberData(nameof(NginxCases))]
    public Task Nginx_backends(string name) => RunAsync(name, Nginx[name]);

    [PythonTheory]
    [MemberData(nameof(PythonCases))]
    public Task Openssl_backends(string name) => RunAsync(name, Python[name]);

    private async Task RunAsync(string name, Case c)
    {
        var (backend, port) = await c.Start();
        await using var _ = backend;
        using var files = new TempFiles();
        var settings = InvokerHost.WithAdminKey((c.Profile ?? Standard)(files, port).Settings);
        await using var host = await InvokerHost.StartAsync(settings);
        var url = c.Code == ErrorCodes.TargetNotAllowed ? $"https://localhost:{port + 1}/" : $"https://localhost:{port}/";
        using var response = await host.InvokeAsync(c.TimeoutSeconds is { } t
            ? new { method = "GET", url, timeoutSeconds = t }
            : (object)new { method = "GET", url });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == c.Status, $"{name}: expected {c.Status}, got {(int)response.StatusCode}: {text}");
        if (c.Status != 200)
        {
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal(c.Code, problem.GetProperty("code").GetString());
            var detail = problem.GetProperty("detail").GetString()!;
            if (c.Cause is not null)
            {
                Assert.True(problem.TryGetProperty("cause", out var cause) && cause.GetString() == c.Cause, $"{name}: expected cause {c.Cause}: {text}");
            }
            foreach (var phrase in c.DetailSays)
            {
                Assert.True(detail.Contains(phrase, StringComparison.Ordinal), $"{name}: the detail does not say '{phrase}': {detail}");
            }
            if (c.Cause != FailureCauses.ClientCertificateRefused)
            {
                Assert.DoesNotContain(BlamesOurCertificate, detail);
            }
        }
        else
        {
            Assert.Equal(200, JsonDocument.Parse(text).RootElement.GetProperty("status").GetInt32());
        }

        var probe = await host.ProbeAsync();
        var report = probe.GetProperty("hosts")[0];
        var summary = report.GetProperty("summary").GetString()!;
        output.WriteLine($"{name}\n  reply: {(int)response.StatusCode} {text}\n  probe: {summary}");
        Assert.True(summary.Contains(c.ProbeSays, StringComparison.Ordinal) || probe.ToString().Contains(c.ProbeSays, StringComparison.Ordinal),
            $"{name}: the probe does not say '{c.ProbeSays}': {summary}");
        Assert.Equal(c.ProbeOk, report.GetProperty("ok").GetBoolean());
        if (c.Cause != FailureCauses.ClientCertificateRefused && c.Cause != FailureCauses.ClientCertificateExpired)
        {
            Assert.DoesNotContain(BlamesOurCertificate, summary);
        }
        if (c.ProbeCause is not null)
        {
            Assert.Equal(c.ProbeCause, report.GetProperty("tls").GetProperty("cause").GetString());
        }
        // The early re-read is for a backend that really refused our certificate, and only then.
        Assert.Equal(c.Cause == FailureCauses.ClientCertificateRefused, host.Logs.All.Contains(EarlyReread, StringComparison.Ordinal));
    }

    // ---- helpers ----

    private static X509Certificate2 OtherRootPublic => X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData);

    private static ProfileSettings Standard(TempFiles files, int port) => ProfileSettings.Standard(files, port);

    private static Task<(IAsyncDisposable, int)> Socket(RawSocketServer server) => Task.FromResult<(IAsyncDisposable, int)>((server, server.Port));

    private static Task<(IAsyncDisposable, int)> ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return Task.FromResult<(IAsyncDisposable, int)>((new Nothing(), port));
    }

    private sealed class Nothing : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static async Task<(IAsyncDisposable, int)> NginxAsync(Func<string, int, Task<string>> server)
    {
        var nginx = await NginxBackend.StartAsync(server);
        return (nginx, nginx.Port);
    }

    /// <summary>nginx serving <paramref name="server"/> (with <paramref name="chain"/>, default the test intermediate) on TLS.</summary>
    /// <param name="legacy">Lets OpenSSL load weak keys and SHA-1 certificates (security level 0), as a partner's old server does.</param>
    private static Task<(IAsyncDisposable, int)> NginxTls(X509Certificate2 server, X509Certificate2[]? chain = null, X509Certificate2? clientCa = null,
        bool legacy = false, string extra = "") => NginxAsync(async (prefix, port) =>
    {
        var pem = Path.Combine(prefix, "server.pem");
        var certificates = new[] { server }.Concat(chain ?? [Pki.IntermediatePublic]);
        await File.WriteAllTextAsync(pem, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));
        var key = Path.Combine(prefix, "server.key");
        await File.WriteAllTextAsync(key, server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var verify = "";
        if (clientCa is not null)
        {
            var ca = Path.Combine(prefix, "client-ca.pem");
            await File.WriteAllTextAsync(ca, clientCa.ExportCertificatePem());
            verify = $"ssl_client_certificate {ca}; ssl_verify_client on; ssl_verify_depth 3;";
        }
        return $$"""
            server {
              listen 127.0.0.1:{{port}} ssl;
              server_name localhost;
              ssl_certificate {{pem}};
              ssl_certificate_key {{key}};
              {{verify}}
              {{(legacy ? "ssl_ciphers DEFAULT:@SECLEVEL=0;" : "")}}
              {{extra}}
              location / { default_type application/json; return 200 '{"ok":true,"client":"$ssl_client_s_dn"}'; }
            }
            """;
    });

    private static async Task<(IAsyncDisposable, int)> PythonAsync(X509Certificate2? clientCa, bool maxTls12, bool closeAfterHandshake = false)
    {
        var server = await PythonTlsServer.StartAsync(Pki.Server, Pki.Intermediate.Intermediates(), clientCa, maxTls12, closeAfterHandshake);
        return (server, server.Port);
    }

    /// <summary>A ServerHello choosing TLS 1.0 (0x0301) and TLS_RSA_WITH_AES_128_CBC_SHA: what a TLS 1.0-only server answers a modern hello with.</summary>
    private static byte[] Tls10ServerHello()
    {
        var body = new List<byte> { 0x03, 0x01 };
        body.AddRange(RandomNumberGenerator.GetBytes(32));
        body.Add(0x00); // no session id
        body.AddRange([0x00, 0x2f]); // cipher suite
        body.Add(0x00); // no compression
        var handshake = new List<byte> { 0x02, 0x00, 0x00, (byte)body.Count };
        handshake.AddRange(body);
        var record = new List<byte> { 0x16, 0x03, 0x01, 0x00, (byte)handshake.Count };
        record.AddRange(handshake);
        return [.. record];
    }
}
