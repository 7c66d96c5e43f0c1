using ServiceNodeInvoker.TestSupport.FunctionsHost;

namespace ServiceNodeInvoker.Tests.FunctionsHost;

/// <summary>The Functions app itself, run by the real isolated worker under the host fixture.</summary>
public sealed class FunctionsAppTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>Profile settings as Azure app settings give them: environment variables with __.</summary>
    private static Dictionary<string, string> AppSettings(Dictionary<string, string?> settings) =>
        settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);

    private static HttpRequestMessage Invoke(object body, string? key = WorkerHost.FunctionKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("x-functions-key", key);
        }
        return request;
    }

    [FunctionsFact]
    public async Task An_envelope_invocation_runs_through_the_real_worker_over_mutual_tls()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        using var response = await host.SendAsync(Invoke(new { method = "POST", url = $"{backend.BaseAddress}echo", body = new { hello = "functions" } }));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}\n{host.Output}");
        using var envelope = JsonDocument.Parse(text);
        Assert.Equal(200, envelope.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("CN=bot-client-rsa", envelope.RootElement.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.True(envelope.RootElement.GetProperty("body").GetProperty("clientChainVerified").GetBoolean());
        // Worker.OpenTelemetry's defaults: the worker tells the host to stop emitting telemetry on its behalf.
        Assert.Equal("True", host.Capabilities.GetValueOrDefault("WorkerOpenTelemetryEnabled"));
        await Poll.WhileNotAsync(() => !host.Invocations.IsEmpty); // the InvocationResponse may follow the HTTP answer
        Assert.Contains(host.Invocations, i => i.Result.Status == Microsoft.Azure.Functions.Worker.Grpc.Messages.StatusResult.Types.Status.Success);
    }

    [FunctionsFact]
    public async Task The_effective_configuration_and_a_refresh_run_through_the_worker_with_the_master_key_only()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));
        using (var first = await host.SendAsync(Invoke(new { method = "GET", url = $"{backend.BaseAddress}echo" }))) { Assert.Equal(200, (int)first.StatusCode); }

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/profiles"), (HttpMethod.Post, "/api/profiles/payments/refresh"), (HttpMethod.Post, "/api/configuration/reload") })
        {
            using var withFunctionKey = new HttpRequestMessage(method, path);
            withFunctionKey.Headers.Add("x-functions-key", WorkerHost.FunctionKey);
            using (var r = await host.SendAsync(withFunctionKey)) { Assert.Equal(401, (int)r.StatusCode); } // admin level: the host refuses it
        }

        using var list = new HttpRequestMessage(HttpMethod.Get, "/api/profiles");
        list.Headers.Add("x-functions-key", WorkerHost.MasterKey);
        using var listed = await host.SendAsync(list);
        var text = await listed.Content.ReadAsStringAsync();
        Assert.True(listed.IsSuccessStatusCode, $"{(int)listed.StatusCode}: {text}\n{host.Output}");
        var view = JsonDocument.Parse(text).RootElement;
        Assert.Equal("functions", view.GetProperty("host").GetString());
        Assert.Equal(1, view.GetProperty("configuration").GetProperty("version").GetInt32());

        // The reload runs in the worker as on the standalone host: app settings cannot change under it, so nothing changed.
        using var reload = new HttpRequestMessage(HttpMethod.Post, "/api/configuration/reload");
        reload.Headers.Add("x-functions-key", WorkerHost.MasterKey);
        using var reloaded = await host.SendAsync(reload);
        var report = JsonDocument.Parse(await reloaded.Content.ReadAsStringAsync()).RootElement;
        Assert.True(reloaded.IsSuccessStatusCode, $"{(int)reloaded.StatusCode}: {report}\n{host.Output}");
        Assert.Equal("unchanged", report.GetProperty("result").GetString());
        Assert.Equal(1, report.GetProperty("live").GetProperty("version").GetInt32());
        Assert.Equal("payments.pfx", view.GetProperty("profiles").GetProperty("payments").GetProperty("settings").GetProperty("ClientCertificate").GetProperty("value").GetProperty("file").GetString());
        Assert.DoesNotContain(ProfileSettings.Password, text);
        Assert.DoesNotContain(files.Directory, text);

        var rotated = Pki.Intermediate.IssueClient("bot-client-rotated-functions");
        File.WriteAllBytes(settings["Invoker:Profiles:payments:ClientCertificate:Path"]!,
            new System.Security.Cryptography.X509Certificates.X509Certificate2Collection(new[] { rotated, Pki.IntermediatePublic })
                .Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, ProfileSettings.Password)!);
        using var refresh = new HttpRequestMessage(HttpMethod.Post, "/api/profiles/payments/refresh");
        refresh.Headers.Add("x-functions-key", WorkerHost.MasterKey);
        using var refreshed = await host.SendAsync(refresh);
        var state = JsonDocument.Parse(await refreshed.Content.ReadAsStringAsync()).RootElement;
        Assert.True(state.GetProperty("changed").GetBoolean(), state.ToString());
        using var after = await host.SendAsync(Invoke(new { method = "GET", url = $"{backend.BaseAddress}echo" }));
        var envelope = JsonDocument.Parse(await after.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("CN=bot-client-rotated-functions", envelope.GetProperty("body").GetProperty("clientCertificate").GetString());
    }


    [FunctionsFact]
    public async Task Passthrough_health_probe_keys_and_every_error_code_behave_as_on_the_standalone_host()
    {
        await using var backend = await Pki.StartBackendAsync(new BackendRoutes().Map);
        await using var untrusted = await Pki.StartBackendAsync(server: Pki.UntrustedServer);
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        foreach (var (key, value) in ProfileSettings.Standard(files, untrusted.Port, name: "untrusted").Settings)
        {
            settings[key] = value;
        }
        settings["Invoker:Profiles:closed:Hosts:0"] = "localhost:1";
        settings["Invoker:Profiles:small:Hosts:0"] = $"127.0.0.1:{backend.Port}";
        settings["Invoker:Profiles:small:TrustedCa:Source"] = "File";
        settings["Invoker:Profiles:small:TrustedCa:Path"] = files.CertificatePem("small-root.pem", Pki.RootPublic);
        settings["Invoker:Profiles:small:MaxResponseBytes"] = "10";
        foreach (var part in new[] { "Source", "Path", "Password" })
        {
            settings[$"Invoker:Profiles:small:ClientCertificate:{part}"] = settings[$"Invoker:Profiles:payments:ClientCertificate:{part}"];
        }
        settings["Invoker:Profiles:broken:Hosts:0"] = "broken.example";
        settings["Invoker:Profiles:broken:ClientCertificate:Source"] = "File";
        settings["Invoker:Profiles:broken:ClientCertificate:Path"] = Path.Combine(files.Directory, "missing.pfx");
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));
        var url = $"{backend.BaseAddress}";

        // passthrough: the backend's status, headers and body bytes, plus the duration header
        using (var passthrough = await host.SendAsync(Invoke(new { method = "GET", url = url + "json", response = "passthrough" })))
        {
            Assert.Equal(201, (int)passthrough.StatusCode);
            Assert.Equal("yes", passthrough.Headers.GetValues("x-backend").Single());
            Assert.True(passthrough.Headers.Contains("invoker-duration-ms"));
            Assert.Contains("ch_1", await passthrough.Content.ReadAsStringAsync());
        }

        // each error code, as problem+json from the library, through the worker
        using (var r = await host.SendAsync(Invoke(new { method = "GET" }))) { await InvokerHost.AssertProblemAsync(r, 400, ErrorCodes.InvalidRequest); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = "https://nobody.example/" }))) { await InvokerHost.AssertProblemAsync(r, 403, ErrorCodes.TargetNotAllowed); }
        using (var r = await host.SendAsync(Invoke(new { profile = "nope", method = "GET", url }))) { await InvokerHost.AssertProblemAsync(r, 404, ErrorCodes.UnknownProfile); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = $"{untrusted.BaseAddress}echo" }))) { await InvokerHost.AssertProblemAsync(r, 502, ErrorCodes.TlsHandshakeFailed); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = "https://localhost:1/" }))) { await InvokerHost.AssertProblemAsync(r, 502, ErrorCodes.BackendUnreachable); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = $"https://127.0.0.1:{backend.Port}/json" }))) { await InvokerHost.AssertProblemAsync(r, 502, ErrorCodes.ResponseTooLarge); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = url + "slow", timeoutSeconds = 1 }))) { await InvokerHost.AssertProblemAsync(r, 504, ErrorCodes.BackendTimeout); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = "https://broken.example/" }))) { await InvokerHost.AssertProblemAsync(r, 503, ErrorCodes.CertificateUnavailable); }

        // keys, as the Functions host checks them: function level takes the function or master key, admin only the master key
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url }, key: null))) { Assert.Equal(401, (int)r.StatusCode); }
        using (var r = await host.SendAsync(Invoke(new { method = "GET", url = url + "json" }, key: WorkerHost.MasterKey))) { Assert.Equal(200, (int)r.StatusCode); }
        using var health = new HttpRequestMessage(HttpMethod.Get, "/api/health?code=" + WorkerHost.FunctionKey);
        using (var r = await host.SendAsync(health))
        {
            var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            Assert.True(body.GetProperty("profiles").TryGetProperty("payments", out _), body.ToString());
        }
        using var probeWithFunctionKey = new HttpRequestMessage(HttpMethod.Post, "/api/profiles/payments/probe");
        probeWithFunctionKey.Headers.Add("x-functions-key", WorkerHost.FunctionKey);
        using (var r = await host.SendAsync(probeWithFunctionKey)) { Assert.Equal(401, (int)r.StatusCode); }
        using var probe = new HttpRequestMessage(HttpMethod.Post, "/api/profiles/payments/probe");
        probe.Headers.Add("x-functions-key", WorkerHost.MasterKey);
        using (var r = await host.SendAsync(probe))
        {
            var report = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
            Assert.Equal("payments", report.GetProperty("profile").GetString()); // the route value reached the function
        }
    }

    [FunctionsFact]
    public async Task A_token_profile_gets_its_certificate_bound_token_and_retries_a_refused_one_through_the_real_worker()
    {
        await using var server = await OAuthServer.StartAsync(new OAuthClient("bot-jwt", ClientAuth.PrivateKeyJwt) { Certificate = Pki.ClientRsa });
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, server.Port)
            .Set("payments", "Token:Endpoint", server.TokenEndpoint)
            .Set("payments", "Token:ClientId", "bot-jwt")
            .Set("payments", "Token:Scopes:0", "payments:write")
            .Set("payments", "Token:ClientAuthentication", "PrivateKeyJwt")
            .Set("payments", "BaseUrl", $"https://localhost:{server.Port}/api").Settings;
        // A second profile on the same authorization server, with a client id it does not know.
        foreach (var (key, value) in settings.Where(s => s.Key.StartsWith("Invoker:Profiles:payments:", StringComparison.Ordinal)).ToList())
        {
            settings[key.Replace(":payments:", ":unregistered:", StringComparison.Ordinal)] = value;
        }
        settings["Invoker:Profiles:unregistered:Hosts:0"] = $"127.0.0.1:{server.Port}";
        settings["Invoker:Profiles:unregistered:Token:ClientId"] = "not-registered";
        settings.Remove("Invoker:Profiles:unregistered:BaseUrl");
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        using (var response = await host.SendAsync(Invoke(new { method = "POST", url = server.Api("/api/payments"), body = new { amount = 5 } })))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}\n{host.Output}");
            using var envelope = JsonDocument.Parse(text);
            Assert.Equal(200, envelope.RootElement.GetProperty("status").GetInt32());
            Assert.Equal("payments:write", envelope.RootElement.GetProperty("body").GetProperty("scope").GetString());
        }
        server.RevokeIssued();
        using (var forward = await host.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/payments/accounts") { Headers = { { "x-functions-key", WorkerHost.FunctionKey } } }))
        {
            Assert.Equal(HttpStatusCode.OK, forward.StatusCode);
            Assert.Equal("refreshed", forward.Headers.GetValues(InvokerHeaders.Token).Single());
        }
        Assert.Equal(2, server.TokenRequests);
        Assert.Equal("PS256", server.Seen.First().AssertionAlgorithm);
        using (var refused = await host.SendAsync(Invoke(new { method = "GET", url = $"https://127.0.0.1:{server.Port}/api/accounts" })))
        {
            var problem = await InvokerHost.AssertProblemAsync(refused, 502, ErrorCodes.TokenUnavailable);
            Assert.Equal("invalid_client", problem.GetProperty("tokenError").GetString());
        }
    }

    [FunctionsFact]
    public async Task Forward_mode_runs_through_the_real_worker_and_never_passes_the_function_key_on()
    {
        await using var backend = await Pki.StartBackendAsync(new BackendRoutes().Map);
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        settings["Invoker:Profiles:payments:BaseUrl"] = backend.BaseAddress.ToString();
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        // The key in the query, as a bot platform's HTTP node often sends it.
        using (var byQuery = await host.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/forward/payments/target?a=1&code={WorkerHost.FunctionKey}&b=2")))
        {
            var text = await byQuery.Content.ReadAsStringAsync();
            Assert.True(byQuery.IsSuccessStatusCode, $"{(int)byQuery.StatusCode}: {text}\n{host.Output}");
            Assert.Equal("/target?a=1&b=2", text);
        }
        using (var byHeader = await host.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/payments/headers")
        {
            Headers = { { "x-functions-key", WorkerHost.FunctionKey }, { "x-custom", "kept" } },
        }))
        {
            using var seen = JsonDocument.Parse(await byHeader.Content.ReadAsStringAsync());
            Assert.False(seen.RootElement.TryGetProperty("x-functions-key", out _));
            Assert.False(seen.RootElement.TryGetProperty("x-ms-invocation-id", out _)); // the host's own, to the worker
            Assert.Equal("kept", seen.RootElement.GetProperty("x-custom")[0].GetString());
            Assert.True(byHeader.Headers.Contains("invoker-duration-ms"));
        }
        using (var unknown = await host.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/nope/x") { Headers = { { "x-functions-key", WorkerHost.FunctionKey } } }))
        {
            await InvokerHost.AssertProblemAsync(unknown, 404, ErrorCodes.UnknownProfile);
            Assert.Equal(ErrorCodes.UnknownProfile, unknown.Headers.GetValues("invoker-error").Single());
        }
        using (var noKey = await host.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/forward/payments/target")))
        {
            Assert.Equal(401, (int)noKey.StatusCode); // the host checks the function key before the worker runs
        }
    }

    [FunctionsFact]
    public async Task Thirty_two_parallel_invocations_all_succeed()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        var replies = await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
        {
            using var response = await host.SendAsync(Invoke(new { method = "POST", url = $"{backend.BaseAddress}echo", body = new { call = i } }));
            using var envelope = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return ((int)response.StatusCode, envelope.RootElement.GetProperty("body").GetProperty("receivedBody").GetString());
        }));

        Assert.All(replies, r => Assert.Equal(200, r.Item1));
        Assert.Equal(32, replies.Select(r => r.Item2).Distinct().Count()); // each its own answer
    }

    [FunctionsFact]
    public async Task A_forwarded_caller_certificate_names_the_caller_in_the_functions_host()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var caller = Pki.Root.IssueClient("functions-caller");
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        settings["Invoker:Callers:Mode"] = "CertificateRequired";
        settings["Invoker:Callers:TrustForwardedCertificate"] = "true"; // the Functions kind needs no front-end statement: Azure's front end sets it
        settings["Invoker:Callers:CertificateAuthority:Source"] = "File";
        settings["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem("callers.pem", Pki.RootPublic);
        settings["Invoker:Callers:Certificates:partner:Subject"] = "CN=functions-caller";
        settings["Invoker:Profiles:payments:AllowedCallers:0"] = "partner";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        var withCertificate = Invoke(new { method = "GET", url = $"{backend.BaseAddress}echo" });
        withCertificate.Headers.Add("X-ARR-ClientCert", Convert.ToBase64String(caller.RawData));
        using (var ok = await host.SendAsync(withCertificate)) { Assert.Equal(200, (int)ok.StatusCode); }
        using (var refused = await host.SendAsync(Invoke(new { method = "GET", url = $"{backend.BaseAddress}echo" })))
        {
            await InvokerHost.AssertProblemAsync(refused, 401, ErrorCodes.Unauthenticated); // CertificateRequired: the function key alone is not enough
        }
    }

    [FunctionsFact]
    public async Task An_unnamed_function_key_caller_gets_caller_not_allowed_on_a_profile_that_lists_callers()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        settings["Invoker:Callers:Mode"] = "KeyOrCertificate";
        settings["Invoker:Callers:TrustForwardedCertificate"] = "true";
        settings["Invoker:Callers:CertificateAuthority:Source"] = "File";
        settings["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem("callers.pem", Pki.RootPublic);
        settings["Invoker:Callers:Certificates:partner:Subject"] = "CN=functions-partner";
        settings["Invoker:Profiles:payments:AllowedCallers:0"] = "partner";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        using var response = await host.SendAsync(Invoke(new { method = "GET", url = $"{backend.BaseAddress}echo" }));

        await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.CallerNotAllowed); // the host does not say which key was used
    }

    [FunctionsFact]
    public async Task A_configuration_error_fails_the_workers_start_with_the_setting_named()
    {
        var (exit, output) = await WorkerHost.StartExpectingFailureAsync(new Dictionary<string, string>
        {
            ["Invoker__Profiles__a__Hosts__0"] = "a.contoso.com",
            ["Invoker__Profiles__a__MaxResponseBytes"] = "10MiB",
        });

        Assert.Equal(1, exit);
        Assert.Contains("Invoker:Profiles:a:MaxResponseBytes: '10MiB' is not a whole number of bytes", output);
    }
}
