using System.Net.Sockets;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Probe;

/// <summary>POST /api/profiles/{name}/probe against the backends an operator meets at 2 a.m.</summary>
public sealed class ProbeTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static async Task<JsonElement> ProbeAsync(int port, int expectedStatus = 200, string? key = InvokerHost.AdminKey)
    {
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, port).Settings;
        settings["Invoker:Callers:AdminKeys:ops"] = ApiKeyAuthenticator.HashKey(InvokerHost.AdminKey);
        await using var host = await InvokerHost.StartAsync(settings);
        using var client = new HttpClient { BaseAddress = host.Client.BaseAddress };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, key);
        }
        using var response = await client.PostAsync("/api/profiles/payments/probe", null);
        var body = await InvokerHost.ReadAsync(response, expectedStatus);
        return expectedStatus == 200 ? body.GetProperty("hosts")[0] : body;
    }

    [Fact]
    public async Task A_backend_that_requires_and_accepts_our_certificate()
    {
        await using var backend = await Pki.StartBackendAsync();
        var host = await ProbeAsync(backend.Port);

        var tls = host.GetProperty("tls");
        Assert.True(host.GetProperty("ok").GetBoolean(), host.ToString());
        Assert.Equal("Tls13", tls.GetProperty("protocol").GetString());
        Assert.False(string.IsNullOrEmpty(tls.GetProperty("cipherSuite").GetString()));
        Assert.True(tls.GetProperty("serverCertificateValid").GetBoolean());
        Assert.Contains("CN=Test Intermediate CA", tls.GetProperty("serverChain").ToString());
        Assert.True(tls.GetProperty("clientCertificateRequested").GetBoolean());
        Assert.True(tls.GetProperty("clientCertificateAccepted").GetBoolean());
        Assert.Equal("CN=bot-client-rsa", tls.GetProperty("clientCertificatePresented").GetString());
        Assert.True(host.GetProperty("dns").GetProperty("milliseconds").GetDouble() >= 0);
        Assert.True(host.GetProperty("connect").GetProperty("milliseconds").GetDouble() >= 0);
        Assert.True(tls.GetProperty("milliseconds").GetDouble() > 0);
        Assert.StartsWith("OK", host.GetProperty("summary").GetString());
        Assert.Equal(1, backend.Requests); // one GET / over the connection that presented our certificate
        Assert.Equal(404, tls.GetProperty("httpStatus").GetInt32()); // any answer but a refusal page means accepted
    }

    [Fact]
    public async Task A_backend_that_refuses_our_certificate()
    {
        await using var backend = await Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData));
        var host = await ProbeAsync(backend.Port);

        var tls = host.GetProperty("tls");
        Assert.False(host.GetProperty("ok").GetBoolean());
        Assert.True(tls.GetProperty("clientCertificateRequested").GetBoolean());
        Assert.False(tls.GetProperty("clientCertificateAccepted").GetBoolean());
        Assert.Contains("refused our client certificate", host.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task A_backend_with_an_untrusted_certificate_never_sees_ours()
    {
        await using var backend = await Pki.StartBackendAsync(server: Pki.UntrustedServer);
        var host = await ProbeAsync(backend.Port);

        var tls = host.GetProperty("tls");
        Assert.False(host.GetProperty("ok").GetBoolean());
        Assert.False(tls.GetProperty("serverCertificateValid").GetBoolean());
        Assert.Contains("is neither sent by the backend nor in the profile's TrustedCa", tls.GetProperty("serverCertificateProblem").GetString());
        Assert.Contains("CN=Unrelated Intermediate CA", tls.GetProperty("serverChain").ToString());
        Assert.Equal(JsonValueKind.Null, tls.GetProperty("clientCertificatePresented").ValueKind);
        Assert.Empty(backend.ClientChains);
    }

    [Fact]
    public async Task A_backend_with_a_certificate_for_another_name()
    {
        await using var backend = await Pki.StartBackendAsync(server: Pki.WrongNameServer);
        var host = await ProbeAsync(backend.Port);

        Assert.False(host.GetProperty("ok").GetBoolean());
        Assert.Contains("not valid for the host name 'localhost'", host.GetProperty("tls").GetProperty("serverCertificateProblem").GetString());
    }

    [Fact]
    public async Task A_backend_that_does_not_ask_for_a_client_certificate()
    {
        await using var backend = await Pki.StartBackendAsync(requireClientCertificate: false);
        var host = await ProbeAsync(backend.Port);

        Assert.True(host.GetProperty("ok").GetBoolean());
        Assert.False(host.GetProperty("tls").GetProperty("clientCertificateRequested").GetBoolean());
        Assert.Contains("did not ask for a client certificate", host.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task A_closed_port()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var host = await ProbeAsync(port);

        Assert.False(host.GetProperty("ok").GetBoolean());
        Assert.False(host.GetProperty("connect").GetProperty("ok").GetBoolean());
        Assert.Contains("connection refused", host.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task The_probe_needs_an_admin_key()
    {
        // A caller's key is known, but not enough: 403 saying what is needed. An unknown key: 401.
        var problem = await ProbeAsync(1, 403, key: InvokerHost.ApiKey);
        Assert.Equal(ErrorCodes.Forbidden, problem.GetProperty("code").GetString());
        Assert.Contains("needs an admin key", problem.GetProperty("detail").GetString());
        var unknown = await ProbeAsync(1, 401, key: "not-a-key-at-all");
        Assert.Equal(ErrorCodes.Unauthenticated, unknown.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Get_on_the_probe_is_a_problem_naming_the_method_it_takes()
    {
        await using var host = await InvokerHost.StartAsync(new ProfileSettings().Set("payments", "Hosts:0", "localhost:1").Settings);
        using var response = await host.Client.GetAsync("/api/profiles/payments/probe");
        var problem = await InvokerHost.AssertProblemAsync(response, 405, ErrorCodes.MethodNotAllowed);
        Assert.Contains("use POST", problem.GetProperty("detail").GetString());
    }
}
