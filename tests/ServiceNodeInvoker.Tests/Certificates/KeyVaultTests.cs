using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>Key Vault certificates through the real SecretClient against a protocol-level fake.</summary>
public sealed class KeyVaultTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private const string Profile = "kv";

    private static readonly Lazy<string> RootPemFile = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"sni-kv-root-{Environment.ProcessId}.pem");
        File.WriteAllText(path, Pki.RootPublic.ExportCertificatePem());
        return path;
    });

    /// <param name="trustedCaName">The CA's secret name in the vault; null: the CA comes from a file, so only the client secret is read.</param>
    private static Task<InvokerHost> StartHostAsync(KeyVaultFake vault, int backendPort, string certificateName = "bot-client",
        TimeProvider? time = null, string? trustedCaName = "backend-root")
    {
        var settings = new ProfileSettings()
            .Set(Profile, "Hosts:0", $"localhost:{backendPort}")
            .Set(Profile, "ClientCertificate:Source", "KeyVault")
            .Set(Profile, "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set(Profile, "ClientCertificate:Name", certificateName);
        if (trustedCaName is not null)
        {
            settings.Set(Profile, "TrustedCa:Source", "KeyVault")
                    .Set(Profile, "TrustedCa:VaultUri", vault.VaultUri.ToString())
                    .Set(Profile, "TrustedCa:Name", trustedCaName);
            vault.SetPem(trustedCaName, Pki.RootPublic.ExportCertificatePem());
        }
        else
        {
            settings.Set(Profile, "TrustedCa:Source", "File").Set(Profile, "TrustedCa:Path", RootPemFile.Value);
        }
        return InvokerHost.StartAsync(settings.Settings, builder =>
        {
            builder.Services.AddSingleton<TokenCredential>(new StaticTokenCredential());
            vault.Register(builder.Services);
            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }
        });
    }

    private static string Pem(X509Certificate2 leaf, string keyForm, params X509Certificate2[] chain)
    {
        using var files = new TempFiles();
        var key = File.ReadAllText(files.KeyPem("k.pem", leaf, keyForm));
        return key + "\n" + string.Concat(new[] { leaf }.Concat(chain).Select(c => c.ExportCertificatePem() + "\n"));
    }

    [Theory]
    [InlineData("pkcs12", true, KeyKind.Rsa, "")]
    [InlineData("pkcs12", false, KeyKind.Ecdsa, "")]
    [InlineData("pem", true, KeyKind.Ecdsa, "pkcs8")]
    [InlineData("pem", true, KeyKind.Rsa, "pkcs1")]
    [InlineData("pem", false, KeyKind.Rsa, "pkcs8")]
    public async Task Secrets_in_every_form_load_and_the_root_only_backend_accepts_the_call(string form, bool withChain, KeyKind kind, string keyForm)
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        // Without a chain in the secret, the leaf must be issued by the root itself to be accepted.
        var issuer = withChain ? Pki.Intermediate : Pki.Root;
        var leaf = issuer.IssueClient($"kv-{form}-{kind}-{withChain}", kind);
        X509Certificate2[] chain = withChain ? [Pki.IntermediatePublic] : [];
        if (form == "pkcs12") { vault.SetPkcs12("bot-client", [leaf, .. chain]); } else { vault.SetPem("bot-client", Pem(leaf, keyForm, chain)); }
        await using var host = await StartHostAsync(vault, backend.Port);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal(leaf.Subject, reply.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.Equal(withChain ? 3 : 2, reply.GetProperty("body").GetProperty("clientChain").GetArrayLength());
    }

    [Fact]
    public async Task Two_hundred_concurrent_cold_invocations_make_one_secret_get_and_a_thousand_warm_ones_none()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartHostAsync(vault, backend.Port, trustedCaName: null);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };

        var cold = Enumerable.Range(0, 200).Select(_ => host.InvokeAsync(request)).ToArray();
        await Poll.UntilAsync(() => vault.SecretGets >= 1, "the first secret GET");
        vault.Gate.SetResult();
        var responses = await Task.WhenAll(cold);

        Assert.All(responses, r => Assert.True((int)r.StatusCode == 200, $"status {(int)r.StatusCode}: {r.Content.ReadAsStringAsync().Result}"));
        Assert.Equal(1, vault.SecretGets);

        var warm = 0;
        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, _) =>
        {
            using var response = await host.InvokeAsync(request);
            if ((int)response.StatusCode == 200) { Interlocked.Increment(ref warm); }
        });
        Assert.Equal(1000, warm);
        Assert.Equal(1, vault.SecretGets);
    }

    [Fact]
    public async Task Rotation_under_concurrent_load_fails_nothing_and_drains_the_old_handler()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port, time: time);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await host.InvokeJsonAsync(request);
        var pool = host.Services.GetRequiredService<TransportPool>();
        var oldTransport = pool.CurrentFor(Profile)!;

        var failures = new List<string>();
        var rotatedSeen = 0;
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await host.InvokeAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode != 200)
                {
                    lock (failures) { failures.Add(text); }
                }
                else if (text.Contains("CN=bot-client-rotated"))
                {
                    Interlocked.Increment(ref rotatedSeen);
                }
            }
        })).ToArray();

        var rotated = Pki.Intermediate.IssueClient("bot-client-rotated");
        var newVersion = vault.SetPkcs12("bot-client", rotated, Pki.IntermediatePublic);
        await ArmedAsync(host, time); // the first call's answer can come before the load that served it has armed the timer
        time.Advance(TimeSpan.FromMinutes(66)); // past the 1 h interval + 10 % jitter
        await Poll.UntilAsync(() => Volatile.Read(ref rotatedSeen) > 20, "invocations with the rotated certificate");
        await Poll.UntilAsync(() => oldTransport.IsDisposed, "the old handler to be disposed after draining");
        stop.Cancel();
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        var health = await InvokerHost.ReadAsync(await host.Client.GetAsync("/api/health"), 200);
        var certificate = health.GetProperty("profiles").GetProperty(Profile).GetProperty("certificate");
        Assert.Equal(newVersion, certificate.GetProperty("version").GetString());
        Assert.Equal("CN=bot-client-rotated", certificate.GetProperty("subject").GetString());
        Assert.NotSame(oldTransport, pool.CurrentFor(Profile));
    }

    [Fact]
    public async Task A_vaults_error_code_is_quoted_escaped_and_capped_in_health_and_the_log()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.Behaviour = VaultBehaviour.ServerError;
        vault.ServerErrorCode = "Boom\r\nCertificates of payments loaded\u001b[31m" + new string('x', 10 * 1024);
        await using var host = await StartHostAsync(vault, backend.Port);

        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").TryGetProperty("lastError", out var e) && e.ValueKind == JsonValueKind.String,
            "the failed load");
        var lastError = HealthOf(host).GetProperty("certificate").GetProperty("lastError").GetString()!;
        Assert.Contains("failed (500 Boom\\x0D\\x0A", lastError);
        Assert.DoesNotContain('\n', lastError);
        Assert.DoesNotContain('\u001b', lastError);
        Assert.True(lastError.Length < 2000, $"lastError is {lastError.Length} characters long");
    }

    [Theory]
    [InlineData(VaultBehaviour.Down, "could not be reached")]
    [InlineData(VaultBehaviour.Forbidden, "Key Vault Certificate User")]
    [InlineData(VaultBehaviour.Throttled, "throttling")]
    [InlineData(VaultBehaviour.ServerError, "failed (500")]
    public async Task Outage_after_a_good_load_keeps_serving_until_the_certificate_expires(VaultBehaviour outage, string reason)
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port, time: time);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await host.InvokeJsonAsync(request);
        await ArmedAsync(host, time); // the call's answer can come before the load that served it has armed the timer
        var gets = vault.SecretGets + vault.CertificateGets;

        vault.Behaviour = outage;
        time.Advance(TimeSpan.FromMinutes(66));
        await Poll.UntilAsync(() => vault.SecretGets + vault.CertificateGets > gets && HealthOf(host).GetProperty("status").GetString() == "degraded", "a failed refresh");

        await host.InvokeJsonAsync(request); // still served from the cached certificate
        var profile = HealthOf(host);
        Assert.Contains(reason, profile.GetProperty("certificate").GetProperty("lastError").GetString());
        Assert.Contains("the last refresh failed", profile.GetProperty("reasons").ToString());
        if (outage == VaultBehaviour.Throttled)
        {
            var certificate = profile.GetProperty("certificate");
            var next = certificate.GetProperty("nextRefresh").GetDateTimeOffset();
            Assert.True(next - time.GetUtcNow() >= TimeSpan.FromSeconds(vault.RetryAfterSeconds - 1), $"next refresh {next} ignores Retry-After");
        }

        time.SetUtcNow(Pki.ClientRsa.NotAfter.ToUniversalTime().AddMinutes(1));
        // Expired: the call waits for a load, which keeps trying while the outage may heal, up to the invocation's timeout.
        var pending = host.InvokeAsync(request);
        await Poll.UntilAsync(() =>
        {
            if (!pending.IsCompleted)
            {
                time.Advance(TimeSpan.FromSeconds(2));
            }
            return pending.IsCompleted;
        }, "the expired certificate's answer");
        using var expired = await pending;
        var problem = await InvokerHost.AssertProblemAsync(expired, 503, ErrorCodes.CertificateUnavailable);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("expired", detail);
        Assert.Contains("127.0.0.1", detail);
        Assert.Contains("'bot-client'", detail);
    }

    [Theory]
    [InlineData("missing", null, "has no certificate 'missing'")]
    [InlineData("wrong-type", "text/plain", "content type 'text/plain'")]
    [InlineData("no-key", "nokey", "no certificate with a private key")]
    public async Task Unusable_secrets_give_503_with_a_clear_reason(string name, string? contentType, string expected)
    {
        await using var vault = await KeyVaultFake.StartAsync();
        if (contentType == "text/plain")
        {
            vault.Set(name, "hello", contentType);
        }
        else if (contentType == "nokey")
        {
            vault.SetPkcs12(name, X509CertificateLoader.LoadCertificate(Pki.ClientRsa.RawData));
        }
        await using var host = await StartHostAsync(vault, 1, certificateName: name, trustedCaName: null);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Contains(expected, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_cold_invocation_rides_out_a_429_from_the_vault_and_is_answered_200()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.RetryAfterSeconds = 1;
        vault.ThrottleNext = 1; // the start-up load meets it (or the request's, whichever comes first)
        await using var host = await StartHostAsync(vault, backend.Port, trustedCaName: null);

        var reply = await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        Assert.Equal(Pki.ClientRsa.Subject, reply.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.Equal((2, 1), (vault.SecretGets, vault.Throttled)); // the 429, then the secret alone
    }

    [Fact]
    public async Task A_vault_throttling_past_the_timeout_is_answered_503_vault_throttled_with_retry_after()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.RetryAfterSeconds = 50; // beyond the 30 s timeout: answered at once rather than after 30 s
        vault.Behaviour = VaultBehaviour.Throttled;
        await using var host = await StartHostAsync(vault, 1, trustedCaName: null);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var problem = await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable);
        Assert.Equal(FailureCauses.VaultThrottled, problem.GetProperty("cause").GetString());
        Assert.Contains("is throttling requests (429)", problem.GetProperty("detail").GetString());
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(61)); // the vault's wait, as the caller's
    }

    [Fact]
    public async Task Forbidden_with_nothing_cached_names_the_vault_the_certificate_and_the_missing_role()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.ForbidSecrets = true;
        await using var host = await StartHostAsync(vault, 1, trustedCaName: null);

        using var response = await host.InvokeAsync(new { method = "GET", url = "https://localhost:1/" });

        var detail = (await InvokerHost.AssertProblemAsync(response, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;
        Assert.Contains("127.0.0.1", detail);
        Assert.Contains("'bot-client'", detail);
        Assert.Contains("Key Vault Secrets User", detail);
        Assert.DoesNotContain("fake-access-token", host.Logs.All);
    }

    [Fact]
    public async Task Without_the_certificate_role_the_cold_load_serves_and_the_first_refresh_names_the_missing_role()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.ForbidCertificates = true;
        await using var host = await StartHostAsync(vault, backend.Port, time: time, trustedCaName: null);

        await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" }); // the secret alone serves a cold load
        await ArmedAsync(host, time);
        time.Advance(TimeSpan.FromMinutes(66));
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("status").GetString() == "degraded", "the first refresh to fail");

        Assert.Contains("Key Vault Certificate User", HealthOf(host).GetProperty("certificate").GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task A_refused_certificate_triggers_one_early_refresh_that_picks_up_the_rotated_one()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        // The backend has moved on to another CA; the vault still holds our old certificate.
        await using var backend = await Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData));
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("loaded").GetBoolean(), "the first load");
        var getsBefore = vault.SecretGets;

        vault.SetPkcs12("bot-client", Pki.OtherClient, X509CertificateLoader.LoadCertificate(Pki.OtherIntermediate.Certificate.RawData));
        using (var refused = await host.InvokeAsync(request))
        {
            await InvokerHost.AssertProblemAsync(refused, 502, ErrorCodes.TlsHandshakeFailed);
        }
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("subject").GetString() == "CN=bot-client-unrelated",
            "the early refresh");
        var reply = await host.InvokeJsonAsync(request);
        Assert.Equal("CN=bot-client-unrelated", reply.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.Equal(getsBefore + 2, vault.SecretGets); // one early refresh: the client secret and the CA secret
    }

    [Fact]
    public async Task Early_refreshes_are_rate_limited_per_profile()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port, time: time, trustedCaName: null);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("loaded").GetBoolean(), "the first load");

        for (var i = 0; i < 5; i++)
        {
            using var refused = await host.InvokeAsync(request);
            await InvokerHost.AssertProblemAsync(refused, 502, ErrorCodes.TlsHandshakeFailed);
        }
        // The cold load read the secret alone; each early refresh asks the certificate API whether the version changed.
        await Poll.UntilAsync(() => vault.CertificateGets == 1, "one early refresh"); // the version is unchanged: no secret GET

        time.Advance(TimeSpan.FromMinutes(5));
        using (var refused = await host.InvokeAsync(request))
        {
            await InvokerHost.AssertProblemAsync(refused, 502, ErrorCodes.TlsHandshakeFailed);
        }
        await Poll.UntilAsync(() => vault.CertificateGets == 2, "a second early refresh once the spacing has passed");
        Assert.Equal(2, vault.CertificateGets);
        Assert.Equal(1, vault.SecretGets);
    }

    [Fact]
    public async Task A_cold_load_costs_one_secret_get_steady_refreshes_one_certificate_get_and_a_rotation_one_of_each()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port, time: time, trustedCaName: null);
        var request = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("loaded").GetBoolean(), "the first load");
        Assert.Equal((0, 1), (vault.CertificateGets, vault.SecretGets)); // cold start: the secret alone (cert, key, chain, version)

        for (var i = 1; i <= 3; i++)
        {
            await ArmedAsync(host, time);
            time.Advance(TimeSpan.FromMinutes(66)); // past the refresh interval and its jitter
            await Poll.UntilAsync(() => vault.CertificateGets == i, $"steady refresh {i}");
        }
        Assert.Equal(1, vault.SecretGets); // no key material moved for an unchanged version

        // Rotation under load: a new version is picked up with one secret GET and no failed invocation.
        var failures = 0;
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await host.InvokeAsync(request);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var rotated = Pki.Intermediate.IssueClient("bot-client-rotated");
        var version = vault.SetPkcs12("bot-client", rotated, Pki.IntermediatePublic);
        await ArmedAsync(host, time);
        time.Advance(TimeSpan.FromMinutes(66));
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("version").GetString() == version, "the rotated version");
        await stop.CancelAsync();
        await load;
        Assert.Equal(0, failures);
        Assert.Equal(2, vault.SecretGets);
        var reply = await host.InvokeJsonAsync(request);
        Assert.Equal("CN=bot-client-rotated", reply.GetProperty("body").GetProperty("clientCertificate").GetString());
    }

    [Fact]
    public async Task Health_shows_the_vaults_view_and_a_disabled_version_degrades_it_before_a_backend_refuses()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var version = vault.SetPkcs12("bot-client", Pki.ClientRsa, Pki.IntermediatePublic);
        vault.SetRenewal("bot-client", autoRenewDaysBeforeExpiry: 30);
        await using var host = await StartHostAsync(vault, backend.Port, time: time, trustedCaName: null);
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("certificate").GetProperty("loaded").GetBoolean(), "the first load");

        // The cold load read the secret alone: its version and attributes, not yet the certificate's renewal policy.
        var cold = HealthOf(host).GetProperty("certificate").GetProperty("vault");
        Assert.Equal(version, cold.GetProperty("version").GetString());
        Assert.Equal(ServiceNodeInvoker.Certificates.KeyVaultCertificateSource.RenewalNotRead, cold.GetProperty("renewal").GetString());
        await ArmedAsync(host, time);
        time.Advance(TimeSpan.FromMinutes(66));
        await Poll.UntilAsync(() => vault.CertificateGets == 1 && HealthOf(host).GetProperty("certificate").GetProperty("vault").GetProperty("renewal").GetString() != cold.GetProperty("renewal").GetString(), "the first refresh");

        var view = HealthOf(host).GetProperty("certificate").GetProperty("vault");
        Assert.Equal(version, view.GetProperty("version").GetString());
        Assert.True(view.GetProperty("enabled").GetBoolean());
        Assert.Equal("auto-renews 30 days before expiry with issuer Self", view.GetProperty("renewal").GetString());
        Assert.Equal("healthy", HealthOf(host).GetProperty("status").GetString());
        await ArmedAsync(host, time);

        vault.DisableCurrent("bot-client");
        time.Advance(TimeSpan.FromMinutes(66));
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("status").GetString() == "degraded", "the disabled version to show");
        var health = HealthOf(host);
        Assert.False(health.GetProperty("certificate").GetProperty("vault").GetProperty("enabled").GetBoolean());
        Assert.Contains($"version {version} is disabled in Key Vault", health.GetProperty("reasons").ToString());
        Assert.Equal(1, vault.SecretGets); // the view alone told it
    }

    [Fact]
    public async Task The_expiry_warning_says_whether_the_vault_will_renew_the_certificate()
    {
        await using var vault = await KeyVaultFake.StartAsync();
        await using var backend = await Pki.StartBackendAsync();
        var soon = Pki.Intermediate.IssueClient("expiring-bot", notAfter: DateTimeOffset.UtcNow.AddDays(10));
        vault.SetPkcs12("bot-client", soon, Pki.IntermediatePublic);
        await using var host = await StartHostAsync(vault, backend.Port, trustedCaName: null);

        // The store's warning (1006) ends with what to do; the expiry watch's own line (1008) names the same certificate
        // and days left, so the wait is for the store's action, whichever it says.
        await Poll.UntilAsync(() => host.Logs.Lines.Any(l => l.Contains("expiring-bot", StringComparison.Ordinal) && l.Contains("expires in", StringComparison.Ordinal)
                                                             && (l.Contains(": rotate it", StringComparison.Ordinal) || l.Contains("the vault renews it", StringComparison.Ordinal))),
            "the store's expiry warning with its action");

        Assert.Contains(host.Logs.Lines, l => l.Contains("rotate it: the vault will not (manual: the vault emails its contacts", StringComparison.Ordinal));
    }

    /// <summary>
    /// Waits until the next refresh is scheduled after the last one ran (the timer is armed after each load ends), so advancing
    /// the clock triggers it. The schedule shown is then later than the fake clock's now: until the refresh that just ran has
    /// re-armed the timer, health still shows the time that fired it (not later than now), and a clock advanced then would arm
    /// the timer an interval past the advance, where no test moves the clock again.
    /// </summary>
    private static async Task ArmedAsync(InvokerHost host, TimeProvider time)
    {
        await Poll.UntilAsync(() => HealthOf(host).GetProperty("nextRefresh") is { ValueKind: JsonValueKind.String } next
                              && next.GetDateTimeOffset() > time.GetUtcNow(), "the next refresh to be scheduled");
    }

    private static JsonElement HealthOf(InvokerHost host)
    {
        using var response = host.Client.GetAsync("/api/health").GetAwaiter().GetResult();
        return JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult())
            .RootElement.GetProperty("profiles").GetProperty(Profile).Clone();
    }

}
