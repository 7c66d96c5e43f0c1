using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Callers;

/// <summary>Who may call: API keys, caller certificates (TLS or Azure's forwarded header), modes and grants.</summary>
public sealed class CallerTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private static readonly X509Certificate2 CallerCertificate = Pki.Root.IssueClient("caller-bot");
    private static readonly X509Certificate2 OtherCaller = Pki.Root.IssueClient("unlisted-bot");

    private static Dictionary<string, string?> CertificateCallers(TempFiles files, int port, string mode, bool trustForwarded)
    {
        var settings = ProfileSettings.Standard(files, port).Settings;
        settings["Invoker:Callers:Mode"] = mode;
        settings["Invoker:Callers:TrustForwardedCertificate"] = trustForwarded.ToString();
        settings["Invoker:Callers:BehindCertificateForwardingFrontEnd"] = trustForwarded.ToString();
        settings["Invoker:Callers:CertificateAuthority:Source"] = "File";
        settings["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem("caller-root.pem", Pki.RootPublic);
        settings["Invoker:Callers:Certificates:partner-bot:Subject"] = "CN=caller-bot";
        return settings;
    }

    private static HttpRequestMessage Invoke(MutualTlsBackend backend, X509Certificate2? forwarded, bool withKey, string? rawHeader = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke")
        {
            Content = JsonContent.Create(new { method = "GET", url = $"{backend.BaseAddress}echo" }),
        };
        if (forwarded is not null || rawHeader is not null)
        {
            request.Headers.Add(CallerCertificates.ForwardedHeader, rawHeader ?? Convert.ToBase64String(forwarded!.RawData));
        }
        if (!withKey)
        {
            request.Headers.Add(ApiKeyAuthenticator.HeaderName, "not-the-key"); // send with a client that has no key of its own
        }
        return request;
    }

    private static HttpClient Anonymous(InvokerHost host) => new() { BaseAddress = host.Client.BaseAddress };

    [Fact]
    public async Task Forward_mode_applies_the_caller_mode_and_never_passes_the_callers_certificate_on()
    {
        var routes = new BackendRoutes();
        await using var backend = await Pki.StartBackendAsync(routes.Map);
        using var files = new TempFiles();
        var settings = CertificateCallers(files, backend.Port, "CertificateRequired", trustForwarded: true);
        settings["Invoker:Profiles:payments:BaseUrl"] = backend.BaseAddress.ToString();
        await using var host = await InvokerHost.StartAsync(settings);
        using var anonymous = Anonymous(host);

        var withCertificate = new HttpRequestMessage(HttpMethod.Get, "/api/forward/payments/headers");
        withCertificate.Headers.Add(CallerCertificates.ForwardedHeader, Convert.ToBase64String(CallerCertificate.RawData));
        using (var ok = await anonymous.SendAsync(withCertificate))
        {
            var headers = await InvokerHost.ReadAsync(ok, 200);
            Assert.False(headers.TryGetProperty(CallerCertificates.ForwardedHeader.ToLowerInvariant(), out _));
        }
        // Certificate required: the key alone is not enough, and the refusal is marked as ours.
        using (var keyOnly = await host.Client.GetAsync("/api/forward/payments/headers"))
        {
            Assert.Equal(401, (int)keyOnly.StatusCode);
            Assert.Equal(ErrorCodes.Unauthenticated, keyOnly.Headers.GetValues("invoker-error").Single());
        }
        var unlisted = new HttpRequestMessage(HttpMethod.Get, "/api/forward/payments/headers");
        unlisted.Headers.Add(CallerCertificates.ForwardedHeader, Convert.ToBase64String(OtherCaller.RawData));
        using (var refused = await anonymous.SendAsync(unlisted))
        {
            Assert.Equal(401, (int)refused.StatusCode);
        }
    }

    [Fact]
    public async Task Certificate_required_mode_accepts_a_listed_forwarded_certificate_and_refuses_the_rest()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(CertificateCallers(files, backend.Port, "CertificateRequired", trustForwarded: true));
        using var anonymous = Anonymous(host);

        using (var ok = await anonymous.SendAsync(Invoke(backend, CallerCertificate, withKey: true)))
        {
            await InvokerHost.ReadAsync(ok, 200);
        }
        using (var keyOnly = await host.Client.SendAsync(Invoke(backend, null, withKey: true)))
        {
            var problem = await InvokerHost.AssertProblemAsync(keyOnly, 401, ErrorCodes.Unauthenticated);
            Assert.Contains("client certificate is required", problem.GetProperty("detail").GetString());
        }
        var refusals = new (X509Certificate2? Certificate, string? Raw, string Reason)[]
        {
            (Pki.OtherClient, null, "does not chain"),
            (OtherCaller, null, "not listed"),
            (Pki.Root.IssueClient("caller-bot", notAfter: DateTimeOffset.UtcNow.AddMinutes(-1)), null, "validity"),
            (Pki.Root.IssueServer(["caller-bot"]), null, "does not chain"), // serverAuth only: not for client authentication
            (null, "bm90IGEgY2VydA==", "base64 DER"),
        };
        foreach (var (certificate, raw, reason) in refusals)
        {
            using var refused = await anonymous.SendAsync(Invoke(backend, certificate, withKey: true, raw));
            var problem = await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated);
            Assert.Contains(reason, problem.GetProperty("detail").GetString());
        }
        Assert.Equal(1, backend.Requests);

        // Health stays reachable with a key and no certificate (probes cannot present one).
        using var health = await host.Client.GetAsync("/api/health");
        Assert.Equal(200, (int)health.StatusCode);
    }

    [Fact]
    public async Task Forwarded_header_is_ignored_unless_configured_as_trusted()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(CertificateCallers(files, backend.Port, "KeyOrCertificate", trustForwarded: false));
        using var anonymous = Anonymous(host);

        using var spoofed = await anonymous.SendAsync(Invoke(backend, CallerCertificate, withKey: false));
        await InvokerHost.AssertProblemAsync(spoofed, 401, ErrorCodes.Unauthenticated);

        using var keyed = await host.Client.SendAsync(Invoke(backend, null, withKey: true));
        await InvokerHost.ReadAsync(keyed, 200);
    }

    [Fact]
    public async Task Standalone_host_identifies_callers_by_their_tls_client_certificate()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = CertificateCallers(files, backend.Port, "CertificateRequired", trustForwarded: false);
        settings["Invoker:AllowLoopback"] = "true";
        var app = await InvokerHost.StartHttpsAsync(settings, files);
        try
        {
            var address = new Uri(app.Urls.First());
            HttpClient Client(X509Certificate2? certificate) => new(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    ClientCertificates = certificate is null ? null : [certificate],
                    RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == Pki.Server.GetCertHashString(),
                },
            }) { BaseAddress = new Uri($"https://localhost:{address.Port}") };

            using var withCertificate = Client(CallerCertificate);
            using var ok = await withCertificate.SendAsync(Invoke(backend, null, withKey: false));
            await InvokerHost.ReadAsync(ok, 200);

            using var without = Client(null);
            using var refused = await without.SendAsync(Invoke(backend, null, withKey: false));
            await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_callers_own_grant_beats_the_default_grant()
    {
        await using var backend = await Pki.StartBackendAsync();
        await using var other = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port, "payments").Settings;
        foreach (var (k, v) in ProfileSettings.Standard(files, other.Port, "orders").Settings) { settings[k] = v; }
        settings["Invoker:Profiles:orders:AllowedCallers:0"] = "bot-b";
        settings["Invoker:Callers:ApiKeys:bot-a"] = ApiKeyAuthenticator.HashKey("key-a");
        settings["Invoker:Callers:ApiKeys:bot-b"] = ApiKeyAuthenticator.HashKey("key-b");
        settings["Invoker:Callers:Grants:bot-a:0"] = "payments";
        await using var host = await InvokerHost.StartAsync(settings);

        async Task<int> CallAsync(string key, MutualTlsBackend target)
        {
            using var client = Anonymous(host);
            client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, key);
            using var response = await client.PostAsJsonAsync("/api/invoke", new { method = "GET", url = $"{target.BaseAddress}echo" });
            if ((int)response.StatusCode == 403)
            {
                await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.CallerNotAllowed);
            }
            return (int)response.StatusCode;
        }

        Assert.Equal(200, await CallAsync("key-a", backend));  // its own grant
        Assert.Equal(403, await CallAsync("key-a", other));    // not in its own grant
        Assert.Equal(200, await CallAsync("key-b", other));    // listed by the profile
        Assert.Equal(200, await CallAsync("key-b", backend));  // default grant: the profile admits everyone
        Assert.Equal(403, await CallAsync(InvokerHost.ApiKey, other)); // test-bot: not listed by orders
    }

    [Fact]
    public async Task Missing_or_wrong_api_key_gives_401_and_the_code_query_parameter_works()
    {
        using var files = new TempFiles();
        await using var backend = await Pki.StartBackendAsync();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);
        using var anonymous = new HttpClient { BaseAddress = host.Client.BaseAddress };
        using var none = await anonymous.PostAsync("/api/invoke", new StringContent("{}"));
        await InvokerHost.AssertProblemAsync(none, 401, ErrorCodes.Unauthenticated);

        anonymous.DefaultRequestHeaders.Add("x-functions-key", "wrong");
        using var wrong = await anonymous.GetAsync("/api/health");
        await InvokerHost.AssertProblemAsync(wrong, 401, ErrorCodes.Unauthenticated);

        using var byQuery = await new HttpClient().GetAsync(new Uri(host.Client.BaseAddress!, $"/api/health?code={InvokerHost.ApiKey}"));
        // Authenticated: health answers (200, or 503 while the certificate is still loading), not 401.
        Assert.Contains("\"profiles\"", await byQuery.Content.ReadAsStringAsync());
        Assert.DoesNotContain(InvokerHost.ApiKey, host.Logs.All);
    }
}
