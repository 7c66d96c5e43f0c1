using System.Diagnostics.Metrics;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Tests.Tokens;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Configuration;

/// <summary>
/// Issue 38, inside the host: what a reload keeps and what it replaces. An unchanged profile keeps its certificate
/// cache, token and connections; a changed one gets new ones, and the old ones drain; a request still holding a retired
/// profile gets a connection of its own; every reload is counted by result.
/// </summary>
public sealed class LiveReloadTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static async Task<JsonElement> ReloadAsync(InvokerHost host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/configuration/reload");
        request.Headers.Add(ApiKeyAuthenticator.HeaderName, InvokerHost.AdminKey);
        using var response = await host.Client.SendAsync(request);
        return await InvokerHost.ReadAsync(response, 200);
    }

    [Fact]
    public async Task A_profile_whose_certificate_does_not_load_goes_live_with_a_warning_in_the_reloads_own_words()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));
        host.App.Configuration["Invoker:Profiles:broken:Hosts:0"] = "broken.example";
        host.App.Configuration["Invoker:Profiles:broken:ClientCertificate:Source"] = "File";
        host.App.Configuration["Invoker:Profiles:broken:ClientCertificate:Path"] = Path.Combine(files.Directory, "missing.pfx");

        var reload = await ReloadAsync(host);

        Assert.Equal("applied", reload.GetProperty("result").GetString()); // as at start-up: a certificate that does not load is not a refusal
        var warning = Assert.Single(reload.GetProperty("warnings").EnumerateArray()).GetString()!;
        Assert.StartsWith("profile 'broken': ", warning);
        Assert.Contains("'missing.pfx'", warning);
        Assert.DoesNotContain("invocation", warning); // the call's reply wording; no call is involved
        Assert.DoesNotContain(files.Directory, warning);
        Assert.Contains(host.Logs.Lines, l => l.Contains("live without its certificates ready: profile 'broken': ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_profile_whose_vault_does_not_answer_within_the_changes_wait_goes_live_named_as_still_loading()
    {
        await using var setup = await VaultedProfiles.StartAsync();
        setup.AddBillingHeld();

        var reload = await ReloadAsync(setup.Host); // the change's whole 10 s wait: the vault holds billing's certificate
        setup.Release();

        Assert.Equal("applied", reload.GetProperty("result").GetString());
        var warning = Assert.Single(reload.GetProperty("warnings").EnumerateArray()).GetString();
        Assert.Equal("profile 'billing': not loaded within the change's 10 s wait; the load goes on in the background", warning);
    }

    [Fact]
    public async Task An_unchanged_profile_keeps_its_certificates_token_and_connections_and_a_changed_one_starts_afresh()
    {
        await using var billing = await Pki.StartBackendAsync();
        await using var setup = await TokenSetup.StartAsync();
        var host = setup.Host;
        using var records = new ReloadCounter(host);
        var catalog = host.Services.GetRequiredService<ProfileCatalog>();
        var certificates = host.Services.GetRequiredService<CertificateStore>();
        var tokens = host.Services.GetRequiredService<TokenStore>();
        var pool = host.Services.GetRequiredService<TransportPool>();
        Assert.Equal(200, (await setup.InvokeAsync()).GetProperty("status").GetInt32());
        var payments = catalog.Named(TokenSetup.Profile);
        var cache = certificates.For(payments);
        var token = tokens.For(payments);
        var transport = pool.CurrentFor(TokenSetup.Profile);
        Assert.Equal(1, setup.Server.TokenRequests);

        // Another profile added: 'payments' is untouched.
        foreach (var (key, value) in ProfileSettings.Standard(setup.Files, billing.Port, "billing").Settings)
        {
            host.App.Configuration[key] = value;
        }
        var added = await ReloadAsync(host);
        Assert.Equal("applied", added.GetProperty("result").GetString());
        Assert.Equal(["billing"], added.GetProperty("added").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty(added.GetProperty("changed").EnumerateArray());
        Assert.Empty(added.GetProperty("warnings").EnumerateArray()); // its certificates loaded before it went live
        Assert.NotNull(certificates.For(catalog.Named("billing")).State.Material);
        Assert.Same(payments, catalog.Named(TokenSetup.Profile));
        Assert.Same(cache, certificates.For(payments));
        Assert.Same(token, tokens.For(payments));
        Assert.Equal(200, (await setup.InvokeAsync()).GetProperty("status").GetInt32());
        Assert.Same(transport, pool.CurrentFor(TokenSetup.Profile));
        Assert.Equal(1, setup.Server.TokenRequests); // the cached token served
        Assert.Single(host.Logs.Lines, l => l.Contains("Client certificate of profile 'payments' loaded", StringComparison.Ordinal)); // read once

        // 'payments' changed: a new profile instance with its own certificate cache, token and connections; the old ones drain.
        host.App.Configuration[$"Invoker:Profiles:{TokenSetup.Profile}:Timeout"] = "20";
        var changed = await ReloadAsync(host);
        Assert.Equal([TokenSetup.Profile], changed.GetProperty("changed").EnumerateArray().Select(e => e.GetString()));
        var renewed = catalog.Named(TokenSetup.Profile);
        Assert.NotSame(payments, renewed);
        Assert.Equal(TimeSpan.FromSeconds(20), renewed.Timeout);
        Assert.NotSame(cache, certificates.For(renewed));
        Assert.NotSame(token, tokens.For(renewed));
        Assert.Same(cache, certificates.For(payments)); // a request still holding the old profile finds what it started with
        Assert.Same(token, tokens.For(payments));
        Assert.DoesNotContain(cache, certificates.Profiles);
        Assert.True(transport!.IsDisposed); // retired with no request on it: disposed at once
        Assert.Equal(200, (await setup.InvokeAsync()).GetProperty("status").GetInt32());
        Assert.Equal(2, setup.Server.TokenRequests);

        // Read again with nothing changed.
        var unchanged = await ReloadAsync(host);
        Assert.Equal("unchanged", unchanged.GetProperty("result").GetString());
        Assert.Equal(3, unchanged.GetProperty("live").GetProperty("version").GetInt32());
        Assert.Equal([("applied", "request"), ("applied", "request"), ("unchanged", "request")], records.Reloads);
    }

    [Fact]
    public async Task A_request_that_resolved_a_retired_profile_gets_a_connection_of_its_own_that_ends_with_it()
    {
        await using var scenario = await Scenario.Standard().WithAdminKey().StartAsync();
        var (backend, host) = scenario;
        var catalog = host.Services.GetRequiredService<ProfileCatalog>();
        var certificates = host.Services.GetRequiredService<CertificateStore>();
        var pool = host.Services.GetRequiredService<TransportPool>();
        Assert.Equal(200, (await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" })).GetProperty("status").GetInt32());
        var old = catalog.Named("payments");
        var material = await certificates.For(old).GetAsync(CancellationToken.None);
        using var held = pool.Acquire(old, material); // a request in flight on the old profile

        host.App.Configuration["Invoker:Profiles:payments:Timeout"] = "25";
        Assert.Equal("applied", (await ReloadAsync(host)).GetProperty("result").GetString());
        Assert.False(held.Transport.IsDisposed); // retired, but a request is on it

        using (var straggler = pool.Acquire(old, material)) // resolved before the change, connecting after it
        {
            Assert.NotSame(held.Transport, straggler.Transport);
            Assert.Same(old, straggler.Transport.Profile);
            Assert.Null(pool.CurrentFor("payments")); // not pooled: the pool serves the new profile only
            held.Dispose();
            Assert.True(held.Transport.IsDisposed);
            Assert.False(straggler.Transport.IsDisposed);
            straggler.Dispose();
            Assert.True(straggler.Transport.IsDisposed);
        }
        Assert.Equal(200, (await host.InvokeJsonAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" })).GetProperty("status").GetInt32());
        Assert.Same(catalog.Named("payments"), pool.CurrentFor("payments")!.Profile);
    }

    /// <summary>
    /// A host whose 'payments' profile reads its certificates from the vault (loaded), and a 'billing' profile on a backend of
    /// its own that a change can add while the vault holds its certificate back: the change then waits for it.
    /// </summary>
    private sealed class VaultedProfiles : IAsyncDisposable
    {
        public const string NewKey = "the-new-key-0123456789";
        public const string NewAdminKey = "the-new-admin-key-0123456789";

        private VaultedProfiles(KeyVaultFake vault, MutualTlsBackend payments, MutualTlsBackend billing, InvokerHost host)
        {
            (Vault, Payments, Billing, Host) = (vault, payments, billing, host);
        }

        public KeyVaultFake Vault { get; }
        public MutualTlsBackend Payments { get; }
        public MutualTlsBackend Billing { get; }
        public InvokerHost Host { get; }
        public LiveConfiguration Live => Host.Services.GetRequiredService<LiveConfiguration>();

        public static async Task<VaultedProfiles> StartAsync(Action<Dictionary<string, string?>>? settings = null, Action<WebApplicationBuilder>? build = null)
        {
            var vault = await KeyVaultFake.StartAsync();
            var payments = await Pki.StartBackendAsync();
            var billing = await Pki.StartBackendAsync();
            vault.SetPkcs12("payments-client", Pki.ClientRsa, Pki.IntermediatePublic);
            vault.SetPkcs12("billing-client", Pki.ClientRsa, Pki.IntermediatePublic);
            vault.SetPem("backend-root", Pki.RootPublic.ExportCertificatePem());
            var start = InvokerHost.WithAdminKey(Vaulted(vault, payments.Port, "payments"));
            settings?.Invoke(start);
            var host = await InvokerHost.StartAsync(start, builder =>
            {
                builder.Services.AddSingleton<Azure.Core.TokenCredential>(new StaticTokenCredential());
                vault.Register(builder.Services);
                build?.Invoke(builder);
            });
            return new VaultedProfiles(vault, payments, billing, host);
        }

        private static Dictionary<string, string?> Vaulted(KeyVaultFake vault, int port, string profile) => new ProfileSettings()
            .Set(profile, "Hosts:0", $"localhost:{port}")
            .Set(profile, "ClientCertificate:Source", "KeyVault").Set(profile, "ClientCertificate:VaultUri", vault.VaultUri.ToString())
            .Set(profile, "ClientCertificate:Name", $"{profile}-client")
            .Set(profile, "TrustedCa:Source", "KeyVault").Set(profile, "TrustedCa:VaultUri", vault.VaultUri.ToString()).Set(profile, "TrustedCa:Name", "backend-root")
            .Settings;

        /// <summary>Edits the configuration to bring 'billing', whose certificate the vault holds back from now on.</summary>
        public void AddBillingHeld()
        {
            Vault.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var (key, value) in Vaulted(Vault, Billing.Port, "billing"))
            {
                Host.App.Configuration[key] = value;
            }
        }

        /// <summary>Until the change's wait is under way: the vault holds the GET of billing's client certificate.</summary>
        public Task BillingHeldAsync() => Poll.UntilAsync(() => Vault.HeldAtGate.Contains("billing-client"), "the vault to hold the GET of billing's client certificate");

        public void Release() => Vault.Gate?.TrySetResult();

        public async Task<int> InvokeAsync(string key, MutualTlsBackend backend)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = JsonContent.Create(new { method = "GET", url = $"{backend.BaseAddress}echo" }) };
            request.Headers.Add(ApiKeyAuthenticator.HeaderName, key);
            using var response = await Host.Client.SendAsync(request);
            return (int)response.StatusCode;
        }

        /// <summary>A call from behind the front end: the caller's certificate in its forwarded header, no key.</summary>
        public async Task<int> InvokeAsync(X509Certificate2 caller, MutualTlsBackend backend)
        {
            using var client = new HttpClient { BaseAddress = Host.Client.BaseAddress };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = JsonContent.Create(new { method = "GET", url = $"{backend.BaseAddress}echo" }) };
            request.Headers.Add(CallerCertificates.ForwardedHeader, Convert.ToBase64String(caller.RawData));
            using var response = await client.SendAsync(request);
            return (int)response.StatusCode;
        }

        public async Task<int> AdminViewAsync(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/profiles");
            request.Headers.Add(ApiKeyAuthenticator.HeaderName, key);
            using var response = await Host.Client.SendAsync(request);
            return (int)response.StatusCode;
        }

        public async ValueTask DisposeAsync()
        {
            Release();
            await Host.DisposeAsync();
            await Billing.DisposeAsync();
            await Payments.DisposeAsync();
            await Vault.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_revoked_key_is_refused_at_once_even_while_a_profile_the_same_change_brings_waits_for_its_certificate()
    {
        await using var setup = await VaultedProfiles.StartAsync();
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(200, await setup.AdminViewAsync(InvokerHost.AdminKey));

        // One edit: the leaked key and admin key replaced, and a profile whose certificate the vault is slow to give.
        setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(VaultedProfiles.NewKey);
        setup.Host.App.Configuration["Invoker:Callers:AdminKeys:ops"] = ApiKeyAuthenticator.HashKey(VaultedProfiles.NewAdminKey);
        setup.AddBillingHeld();
        var reload = setup.Live.ReloadAsync();
        try
        {
            await setup.BillingHeldAsync();
            Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments)); // the revocation does not wait for another profile's certificate
            Assert.Equal(401, await setup.AdminViewAsync(InvokerHost.AdminKey));
            Assert.Equal(401, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Payments)); // what the change adds counts once it applies, not before
            Assert.False(reload.IsCompleted); // all of it while the change still waited
        }
        finally
        {
            setup.Release();
        }
        var report = await reload;
        Assert.Equal(LiveConfiguration.Applied, report.Result);
        Assert.Empty(report.Warnings); // billing's certificate was in place when it went live
        Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(401, await setup.AdminViewAsync(InvokerHost.AdminKey));
        Assert.Equal(200, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Billing));
        Assert.Equal(200, await setup.AdminViewAsync(VaultedProfiles.NewAdminKey));
    }

    [Fact]
    public async Task A_revoked_caller_certificate_is_refused_at_once_while_a_profile_the_same_change_brings_waits_for_its_certificate()
    {
        using var files = new TempFiles();
        var leaked = Pki.Root.IssueClient("caller-bot");
        var successor = Pki.Root.IssueClient("caller-bot-2");
        await using var setup = await VaultedProfiles.StartAsync(s =>
        {
            s["Invoker:Callers:Mode"] = "CertificateRequired";
            s["Invoker:Callers:TrustForwardedCertificate"] = "true";
            s["Invoker:Callers:BehindCertificateForwardingFrontEnd"] = "true";
            s["Invoker:Callers:CertificateAuthority:Source"] = "File";
            s["Invoker:Callers:CertificateAuthority:Path"] = files.CertificatePem("caller-root.pem", Pki.RootPublic);
            s["Invoker:Callers:Certificates:partner-bot:Subject"] = "CN=caller-bot";
        });
        Assert.Equal(200, await setup.InvokeAsync(leaked, setup.Payments));

        // One edit: partner-bot's certificate replaced, and the slow profile.
        setup.Host.App.Configuration["Invoker:Callers:Certificates:partner-bot:Subject"] = "CN=caller-bot-2";
        setup.AddBillingHeld();
        var reload = setup.Live.ReloadAsync();
        try
        {
            await setup.BillingHeldAsync();
            Assert.Equal(401, await setup.InvokeAsync(leaked, setup.Payments));
            Assert.Equal(401, await setup.InvokeAsync(successor, setup.Payments)); // not before the change applies
            Assert.False(reload.IsCompleted);
        }
        finally
        {
            setup.Release();
        }
        Assert.Equal(LiveConfiguration.Applied, (await reload).Result);
        Assert.Equal(401, await setup.InvokeAsync(leaked, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(successor, setup.Billing));
    }

    [Fact]
    public async Task A_revoked_grant_counts_at_once_while_the_profile_the_same_change_brings_waits_for_its_certificate()
    {
        await using var setup = await VaultedProfiles.StartAsync(s => s["Invoker:Callers:Grants:test-bot:0"] = "payments");
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));

        // One edit: test-bot moves from payments to the new billing.
        setup.Host.App.Configuration["Invoker:Callers:Grants:test-bot:0"] = "billing";
        setup.AddBillingHeld();
        var reload = setup.Live.ReloadAsync();
        try
        {
            await setup.BillingHeldAsync();
            Assert.Equal(403, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
            Assert.False(reload.IsCompleted);
        }
        finally
        {
            setup.Release();
        }
        Assert.Equal(LiveConfiguration.Applied, (await reload).Result);
        Assert.Equal(403, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Billing));
    }

    [Fact]
    public async Task A_key_revoked_by_a_second_edit_while_the_first_waits_for_a_certificate_counts_at_once_and_stays_revoked()
    {
        await using var setup = await VaultedProfiles.StartAsync();
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));

        setup.AddBillingHeld(); // the first edit only adds billing
        var first = setup.Live.ReloadAsync();
        Task<ReloadReport>? second = null;
        try
        {
            await setup.BillingHeldAsync();
            Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments)); // nothing of test-bot's changed yet

            // The second edit revokes the key; its reload queues behind the first.
            setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(VaultedProfiles.NewKey);
            second = setup.Live.ReloadAsync();
            Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
            Assert.False(first.IsCompleted);
            Assert.False(second.IsCompleted);
        }
        finally
        {
            setup.Release();
        }
        Assert.Equal(LiveConfiguration.Applied, (await first).Result);
        Assert.Equal(LiveConfiguration.Applied, (await second!).Result);
        Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Billing));
        Assert.Equal(200, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Payments));
    }

    /// <summary>Holds the thread that logs one event id until released: a reload stopped between reading a change and its wait.</summary>
    private sealed class HoldingLogger(int id) : ILoggerProvider, ILogger
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ManualResetEventSlim Release { get; } = new();
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == id && Reached.TrySetResult())
            {
                Release.Wait(TimeSpan.FromSeconds(30));
            }
        }
        public void Dispose() => Release.Set();
    }

    [Fact]
    public async Task A_key_revoked_while_the_first_change_is_between_being_read_and_its_wait_counts_at_once()
    {
        var holding = new HoldingLogger(6003); // "settings changed that only a restart applies": logged between the read and the wait
        await using var setup = await VaultedProfiles.StartAsync(build: b => b.Logging.AddProvider(holding));
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));

        setup.Host.App.Configuration["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000001";
        setup.AddBillingHeld(); // the first edit adds billing (and a restart-only setting)
        var first = Task.Run(() => setup.Live.ReloadAsync());
        Task<ReloadReport>? second = null;
        try
        {
            await holding.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30)); // read, not yet waiting
            setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(VaultedProfiles.NewKey);
            second = setup.Live.ReloadAsync(); // the revocation: its reload queues behind the first
            holding.Release.Set();
            await setup.BillingHeldAsync();
            Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments)); // not after the first's wait
            Assert.False(first.IsCompleted);
        }
        finally
        {
            holding.Release.Set();
            setup.Release();
        }
        Assert.Equal(LiveConfiguration.Applied, (await first).Result);
        Assert.Equal(LiveConfiguration.Applied, (await second!).Result);
        Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(VaultedProfiles.NewKey, setup.Billing));
    }

    [Fact]
    public async Task A_revocation_read_while_a_change_waits_is_lifted_when_its_own_reload_is_refused()
    {
        await using var setup = await VaultedProfiles.StartAsync();
        var original = setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"];
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));

        setup.AddBillingHeld(); // the first edit only adds billing
        var first = setup.Live.ReloadAsync();
        Task<ReloadReport>? second = null;
        try
        {
            await setup.BillingHeldAsync();
            // A second edit revokes test-bot's key: it counts at once, its reload queued behind the first.
            setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(VaultedProfiles.NewKey);
            second = setup.Live.ReloadAsync();
            Assert.Equal(401, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
            // A third puts the key back, with a typo: the configuration the second reload reads is refused as a whole.
            setup.Host.App.Configuration["Invoker:Callers:ApiKeys:test-bot"] = original;
            setup.Host.App.Configuration["Invoker:Profiles:payments:Timeout"] = "forever";
        }
        finally
        {
            setup.Release();
        }
        Assert.Equal(LiveConfiguration.Applied, (await first).Result);
        var refused = await second!;
        Assert.Equal(LiveConfiguration.Refused, refused.Result);
        Assert.Equal(2, refused.Live.Version); // "configuration 2 keeps serving": the first's, which accepts test-bot's key
        Assert.Equal(2, setup.Live.Live.Version);
        Assert.Contains(setup.Host.Logs.Lines, l => l.Contains("Configuration change refused (reload requested)", StringComparison.Ordinal)
            && l.Contains("configuration 2,", StringComparison.Ordinal));
        // What serves is what the log and the admin view say serves: the refused change's narrowing does not linger.
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Payments));
        Assert.Equal(200, await setup.InvokeAsync(InvokerHost.ApiKey, setup.Billing));
    }

    [Fact]
    public async Task A_refused_reload_is_counted_and_changes_nothing()
    {
        await using var scenario = await Scenario.Standard().WithAdminKey().StartAsync();
        var host = scenario.Host;
        using var records = new ReloadCounter(host);
        var catalog = host.Services.GetRequiredService<ProfileCatalog>();
        var before = catalog.Named("payments");
        host.App.Configuration["Invoker:Profiles:payments:Timeout"] = "forever";
        host.App.Configuration["Invoker:Callers:ApiKeys:other-bot"] = "not-a-hash";

        var refused = await ReloadAsync(host);

        Assert.Equal("refused", refused.GetProperty("result").GetString());
        var problems = refused.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Contains(problems, p => p.StartsWith("Invoker:Profiles:payments:Timeout:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Invoker:Callers:ApiKeys:other-bot:", StringComparison.Ordinal));
        Assert.Equal(1, refused.GetProperty("live").GetProperty("version").GetInt32());
        Assert.Same(before, catalog.Named("payments"));
        Assert.Equal([("refused", "request")], records.Reloads);
        var logged = Assert.Single(host.Logs.Lines, l => l.Contains("Configuration change refused (reload requested): 2 problem(s)", StringComparison.Ordinal));
        Assert.Contains("Invoker:Profiles:payments:Timeout:", logged);
        Assert.DoesNotContain("not-a-hash", logged + refused); // a key's value is never quoted
    }

    [Fact]
    [Trait("Tier", "Fast")]
    public void Only_the_settings_that_cannot_change_live_are_named_as_needing_a_restart()
    {
        Assert.Null(LiveConfiguration.RestartSetting("Invoker:Profiles:payments:Hosts:0"));
        Assert.Null(LiveConfiguration.RestartSetting("Invoker:Callers:ApiKeys:bot"));
        Assert.Null(LiveConfiguration.RestartSetting("Invoker:Callers:Grants:bot:0"));
        Assert.Null(LiveConfiguration.RestartSetting("Logging:LogLevel:Default")); // ASP.NET Core applies it live itself
        Assert.Null(LiveConfiguration.RestartSetting("PATH"));
        Assert.Equal("Invoker:Callers:Mode", LiveConfiguration.RestartSetting("Invoker:Callers:Mode"));
        Assert.Equal("Invoker:Callers:CertificateAuthority", LiveConfiguration.RestartSetting("Invoker:Callers:CertificateAuthority:Path"));
        Assert.Equal("Invoker:MaxRequestBytes", LiveConfiguration.RestartSetting("Invoker:MaxRequestBytes"));
        Assert.Equal("Invoker:Credential", LiveConfiguration.RestartSetting("invoker:credential"));
        Assert.Equal("Urls", LiveConfiguration.RestartSetting("urls"));
        Assert.Equal("Kestrel:Endpoints", LiveConfiguration.RestartSetting("Kestrel:Endpoints:Https:Url"));
        Assert.Equal("APPLICATIONINSIGHTS_CONNECTION_STRING", LiveConfiguration.RestartSetting("APPLICATIONINSIGHTS_CONNECTION_STRING"));
    }

    [Fact]
    [Trait("Tier", "Fast")]
    public void Every_caller_setting_either_changes_live_or_keeps_its_start_up_value()
    {
        var initial = new CallerOptions { Mode = CallerMode.KeyOrCertificate, CertificateAuthority = new CertificateSourceOptions { Path = "ca.pem" } };
        var next = new CallerOptions
        {
            Mode = CallerMode.KeyOnly,
            ApiKeys = new(StringComparer.OrdinalIgnoreCase) { ["a"] = "1" },
            AdminKeys = new(StringComparer.OrdinalIgnoreCase) { ["b"] = "2" },
            Certificates = new(StringComparer.OrdinalIgnoreCase) { ["c"] = new CallerCertificateOptions { Subject = "CN=c" } },
            TrustForwardedCertificate = true,
            BehindCertificateForwardingFrontEnd = true,
            Grants = new(StringComparer.OrdinalIgnoreCase) { ["a"] = ["p"] },
        };
        var effective = new LiveCallerOptions(initial).Replace(next);
        foreach (var property in typeof(CallerOptions).GetProperties())
        {
            var expected = LiveCallerOptions.RestartOnly.Contains(property.Name) ? property.GetValue(initial) : property.GetValue(next);
            Assert.True(Equals(expected, property.GetValue(effective)), $"CallerOptions.{property.Name} is neither taken from the change nor kept from start-up");
        }
    }

    /// <summary>The invoker.configuration.reloads measurements of one host (other hosts in this process have meters of the same name).</summary>
    private sealed class ReloadCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Result, string Trigger)> _reloads = [];

        public ReloadCounter(InvokerHost host)
        {
            var factory = host.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "invoker.configuration.reloads" && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                string? result = null, trigger = null;
                foreach (var tag in tags)
                {
                    result = tag.Key == "invoker.reload.result" ? tag.Value as string : result;
                    trigger = tag.Key == "invoker.reload.trigger" ? tag.Value as string : trigger;
                }
                lock (_reloads)
                {
                    _reloads.Add((result!, trigger!));
                }
            });
            _listener.Start(); // the instruments the host already made are published to it now
        }

        public List<(string Result, string Trigger)> Reloads
        {
            get
            {
                lock (_reloads)
                {
                    return [.. _reloads];
                }
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
