using System.Collections.Concurrent;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Standalone;

/// <summary>
/// Issue 38: the standalone host, as its own process, follows its appsettings.json while it serves. Profiles added,
/// changed and removed while calls run reach new requests within seconds and fail no call; a bad edit is refused as a
/// whole with every problem named while the last good configuration keeps serving; caller keys come and go without a
/// restart; a source that is not watched is read on request.
/// </summary>
public sealed class LiveConfigurationTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>How soon a saved change must reach new requests: "within a few seconds", with room for a loaded machine.</summary>
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    private const string SecondKey = "second-bot-key-0123456789";

    /// <summary>The settings every test starts from: loopback allowed, a caller key, an admin key, the invocation lines quiet.</summary>
    private static Dictionary<string, string?> Base() => new()
    {
        ["Invoker:AllowLoopback"] = "true",
        ["Invoker:Callers:ApiKeys:test-bot"] = ApiKeyAuthenticator.HashKey(InvokerHost.ApiKey),
        ["Invoker:Callers:AdminKeys:ops"] = ApiKeyAuthenticator.HashKey(InvokerHost.AdminKey),
        // One line per invocation would bury the reload lines under the calls the tests keep running.
        ["Logging:LogLevel:ServiceNodeInvoker.Invocation"] = "Warning",
    };

    private static Dictionary<string, string?> With(Dictionary<string, string?> settings, Dictionary<string, string?> more)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in more)
        {
            all[key] = value;
        }
        return all;
    }

    private static Dictionary<string, string?> Without(Dictionary<string, string?> settings, string prefix) =>
        settings.Where(s => !s.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToDictionary(s => s.Key, s => s.Value);

    private static async Task<(int Status, JsonElement Body)> InvokeAsync(HttpClient client, string url)
    {
        using var response = await client.PostAsJsonAsync("/api/invoke", new { method = "GET", url });
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string? Subject((int Status, JsonElement Body) reply) =>
        reply.Status == 200 ? reply.Body.GetProperty("body").GetProperty("clientCertificate").GetString() : null;

    private static async Task<JsonElement> ViewAsync(StandaloneProcess.Running host)
    {
        using var admin = host.Client(InvokerHost.AdminKey);
        using var response = await admin.GetAsync("/api/profiles");
        return await InvokerHost.ReadAsync(response, 200);
    }

    /// <summary>Waits (with the deadline) until the call gives <paramref name="status"/>, and returns that reply or the last one.</summary>
    private static async Task<(int Status, JsonElement Body)> UntilAsync(HttpClient client, string url, int status, string what)
    {
        var reply = await Poll.LatestAsync(() => InvokeAsync(client, url), r => r.Status == status, Soon);
        Assert.True(reply.Status == status, $"{what}: within {Soon.TotalSeconds} s, expected {status}, got {reply.Status}: {reply.Body}");
        return reply;
    }

    /// <summary>The reload report once the admin view's last reload satisfies <paramref name="done"/> (or the last one read).</summary>
    private static async Task<JsonElement> LastReloadAsync(StandaloneProcess.Running host, Func<JsonElement, bool> done) =>
        (await Poll.LatestAsync(() => ViewAsync(host), v => v.GetProperty("configuration").GetProperty("lastReload") is { ValueKind: JsonValueKind.Object } last && done(last), Soon))
            .GetProperty("configuration");

    [Fact]
    public async Task Profiles_added_changed_and_removed_while_calls_run_reach_new_requests_within_seconds_and_fail_no_call()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var payments = await Pki.StartBackendAsync(app => app.MapGet("/hold", async (HttpContext context) =>
        {
            held.TrySetResult();
            await release.Task;
            return Results.Text(context.Connection.ClientCertificate?.Subject ?? "none");
        }));
        await using var billing = await Pki.StartBackendAsync();
        await using var partner = await Pki.StartBackendAsync(server: Pki.UntrustedServer); // its chain ends at the unrelated root
        using var files = new TempFiles();
        var root = files.CertificatePem("root.pem", Pki.RootPublic);
        var otherRoot = files.CertificatePem("other-root.pem", Pki.OtherRoot.Certificate);
        var ecCertificate = files.CertificatePem("ec.pem", Pki.ClientEc);
        var ecKey = files.KeyPem("ec.key", Pki.ClientEc, "pkcs8");
        var ecChain = files.CertificatePem("ec-chain.pem", Pki.IntermediatePublic);

        var settings = With(Base(), ProfileSettings.Standard(files, payments.Port).Settings);
        SettingsFile.Write(files.Directory, settings);
        await using var host = await StandaloneProcess.StartAsync(files.Directory, new Dictionary<string, string>());
        using var client = host.Client(InvokerHost.ApiKey);
        await UntilAsync(client, $"{payments.BaseAddress}echo", 200, "payments before any change");

        // Calls keep running on 'payments' through every change; each loop records what each call got, in order.
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, 2).Select(_ => new ConcurrentQueue<(int Status, string? Subject, string Text)>()).ToArray();
        var running = loops.Select(calls => Task.Run(async () =>
        {
            using var loopClient = host.Client(InvokerHost.ApiKey);
            while (!stop.IsCancellationRequested)
            {
                var reply = await InvokeAsync(loopClient, $"{payments.BaseAddress}echo");
                calls.Enqueue((reply.Status, Subject(reply), reply.Body.ToString()));
            }
        })).ToArray();

        // Added.
        settings = With(settings, new ProfileSettings().Add("billing", billing.Port, files.Pfx("billing.pfx", ProfileSettings.Password, Pki.ClientRsa, Pki.IntermediatePublic), root).Settings);
        SettingsFile.Write(files.Directory, settings);
        await UntilAsync(client, $"{billing.BaseAddress}echo", 200, "the added profile");

        // Changed: hosts.
        settings["Invoker:Profiles:billing:Hosts:1"] = $"127.0.0.1:{billing.Port}";
        SettingsFile.Write(files.Directory, settings);
        await UntilAsync(client, $"https://127.0.0.1:{billing.Port}/echo", 200, "the host added to a profile");

        // Changed: trust. The partner's server certificate chains to the unrelated root: refused while the profile trusts
        // the test root, accepted once it trusts the unrelated one.
        settings = With(settings, new ProfileSettings().Add("partner", partner.Port, settings["Invoker:Profiles:payments:ClientCertificate:Path"], root).Settings);
        SettingsFile.Write(files.Directory, settings);
        var distrusted = await UntilAsync(client, $"{partner.BaseAddress}echo", 502, "the added profile that does not trust its backend yet");
        Assert.Equal("server-certificate", distrusted.Body.GetProperty("cause").GetString());
        settings["Invoker:Profiles:partner:TrustedCa:Path"] = otherRoot;
        SettingsFile.Write(files.Directory, settings);
        await UntilAsync(client, $"{partner.BaseAddress}echo", 200, "the profile whose trust changed");

        // Changed: the certificate source (a PFX file → PEM files, another certificate), with a call in flight on the old one.
        var inFlight = InvokeAsync(host.Client(InvokerHost.ApiKey), $"{payments.BaseAddress}hold");
        await held.Task.WaitAsync(Poll.DefaultDeadline);
        settings = Without(settings, "Invoker:Profiles:payments:ClientCertificate:");
        settings["Invoker:Profiles:payments:ClientCertificate:Source"] = "Pem";
        settings["Invoker:Profiles:payments:ClientCertificate:CertificatePath"] = ecCertificate;
        settings["Invoker:Profiles:payments:ClientCertificate:KeyPath"] = ecKey;
        settings["Invoker:Profiles:payments:ClientCertificate:ChainPath"] = ecChain;
        SettingsFile.Write(files.Directory, settings);
        var rotated = await Poll.LatestAsync(() => InvokeAsync(client, $"{payments.BaseAddress}echo"), r => Subject(r) == "CN=bot-client-ec", Soon);
        Assert.Equal("CN=bot-client-ec", Subject(rotated));
        release.TrySetResult();
        var finished = await inFlight;
        Assert.Equal(200, finished.Status);
        Assert.Equal("CN=bot-client-rsa", finished.Body.GetProperty("body").GetString()); // it finished on what it started with

        // Removed.
        settings = Without(settings, "Invoker:Profiles:billing:");
        SettingsFile.Write(files.Directory, settings);
        var removed = await UntilAsync(client, $"{billing.BaseAddress}echo", 403, "the removed profile");
        Assert.Equal("target-not-allowed", removed.Body.GetProperty("code").GetString());

        await stop.CancelAsync();
        await Task.WhenAll(running);
        foreach (var calls in loops)
        {
            var all = calls.ToList();
            Assert.True(all.Count >= 10, $"only {all.Count} calls ran beside the changes");
            Assert.All(all, c => Assert.True(c.Status == 200, $"a call failed during a change: {c.Status} {c.Text}"));
            // Each loop's calls switch from the old certificate to the new one once, never back.
            var firstNew = all.FindIndex(c => c.Subject == "CN=bot-client-ec");
            Assert.True(firstNew > 0, "the calls never saw the new certificate");
            Assert.All(all[..firstNew], c => Assert.Equal("CN=bot-client-rsa", c.Subject));
            Assert.All(all[firstNew..], c => Assert.Equal("CN=bot-client-ec", c.Subject));
        }

        var view = await ViewAsync(host);
        Assert.Equal(["partner", "payments"], view.GetProperty("profiles").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        var configuration = view.GetProperty("configuration");
        Assert.Equal(7, configuration.GetProperty("version").GetInt32()); // start-up, then six changes, each applied once
        Assert.True(configuration.GetProperty("watched").GetBoolean());
        Assert.Equal(["billing"], configuration.GetProperty("lastReload").GetProperty("removed").EnumerateArray().Select(e => e.GetString()));
        await host.WaitForOutputAsync("Configuration 7 applied (a settings file changed): profiles added: none; changed: none; removed: billing");
        Assert.Contains("Configuration 2 applied (a settings file changed): profiles added: billing;", host.Output);
        Assert.Contains("changed: payments;", host.Output);
        Assert.DoesNotContain("[6002]", host.Output);
    }

    [Fact]
    public async Task A_bad_edit_is_refused_as_a_whole_with_every_problem_named_and_the_last_good_configuration_keeps_serving()
    {
        await using var payments = await Pki.StartBackendAsync();
        await using var billing = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var good = With(Base(), ProfileSettings.Standard(files, payments.Port).Settings);
        SettingsFile.Write(files.Directory, good);
        await using var host = await StandaloneProcess.StartAsync(files.Directory, new Dictionary<string, string>());
        using var client = host.Client(InvokerHost.ApiKey);
        await UntilAsync(client, $"{payments.BaseAddress}echo", 200, "payments at start-up");
        var billingProfile = ProfileSettings.Standard(files, billing.Port, "billing").Settings;

        async Task RefusedAsync(Dictionary<string, string?>? settings, string? text, params string[] problems)
        {
            if (settings is not null)
            {
                SettingsFile.Write(files.Directory, settings);
            }
            else
            {
                SettingsFile.WriteText(files.Directory, text!);
            }
            var state = await LastReloadAsync(host, last => last.GetProperty("result").GetString() == "refused"
                && problems.All(p => last.GetProperty("problems").EnumerateArray().Any(e => e.GetString()!.Contains(p, StringComparison.Ordinal))));
            var last = state.GetProperty("lastReload");
            Assert.Equal("refused", last.GetProperty("result").GetString());
            foreach (var problem in problems)
            {
                Assert.Contains(last.GetProperty("problems").EnumerateArray(), e => e.GetString()!.Contains(problem, StringComparison.Ordinal));
                await host.WaitForOutputAsync(problem); // named in the log too
            }
            Assert.Equal(1, state.GetProperty("version").GetInt32());
            Assert.Equal("start-up", state.GetProperty("trigger").GetString());
            // The last good configuration serves: its profile calls, nothing of the refused edit is live.
            Assert.Equal(200, (await InvokeAsync(client, $"{payments.BaseAddress}echo")).Status);
            var refused = await InvokeAsync(client, $"{billing.BaseAddress}echo");
            Assert.Equal(403, refused.Status);
            Assert.Equal("target-not-allowed", refused.Body.GetProperty("code").GetString());
            Assert.Equal(["payments"], (await ViewAsync(host)).GetProperty("profiles").EnumerateObject().Select(p => p.Name));
        }

        // A typo, with another mistake in the same save: the whole save is refused, each problem named.
        var typo = With(good, billingProfile.ToDictionary(s => s.Key.Replace(":Hosts:", ":Hots:", StringComparison.Ordinal), s => s.Value));
        typo["Invoker:Profiles:payments:Timeout"] = "999";
        await RefusedAsync(typo, null, "Invoker:Profiles:billing:Hots: unknown setting; did you mean 'Hosts'?", "Invoker:Profiles:payments:Timeout: must be more than 0");

        // A host owned twice.
        var twice = With(good, billingProfile);
        twice["Invoker:Profiles:billing:Hosts:0"] = $"localhost:{payments.Port}";
        await RefusedAsync(twice, null, $"profiles 'billing' and 'payments' both list localhost:{payments.Port}");

        // Invalid JSON: the good settings, cut short.
        var json = SettingsFile.Json(With(good, billingProfile));
        await RefusedAsync(null, json[..^2], "appsettings.json: not valid JSON at line");
        Assert.DoesNotContain(files.Directory, (await ViewAsync(host)).ToString()); // the file named, never its folder

        // Fixed: the next good save applies.
        SettingsFile.Write(files.Directory, With(good, billingProfile));
        await UntilAsync(client, $"{billing.BaseAddress}echo", 200, "the profile once the settings are fixed");
        var applied = await LastReloadAsync(host, last => last.GetProperty("result").GetString() == "applied");
        Assert.Equal(2, applied.GetProperty("version").GetInt32());
        Assert.Equal(["billing"], applied.GetProperty("lastReload").GetProperty("added").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_listener_changed_or_its_file_deleted_keeps_serving_where_it_listens_and_is_named_as_needing_a_restart()
    {
        await using var payments = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = With(Base(), ProfileSettings.Standard(files, payments.Port).Settings);
        settings["Invoker:Callers:AdminKeys:ops"] = ApiKeyAuthenticator.HashKey(InvokerHost.AdminKey);
        settings["Kestrel:Endpoints:main:Url"] = $"http://127.0.0.1:{FreePort()}";
        SettingsFile.Write(files.Directory, settings);
        await using var host = await StandaloneProcess.StartAsync(files.Directory, new Dictionary<string, string>());
        using var client = host.Client(InvokerHost.ApiKey);
        var url = $"{payments.BaseAddress}echo";
        await UntilAsync(client, url, 200, "the call at start-up");

        // The listener moves in the file: the running host keeps its own and says a restart applies the new one.
        settings["Kestrel:Endpoints:main:Url"] = $"http://127.0.0.1:{FreePort()}";
        settings["Invoker:Callers:ApiKeys:second-bot"] = ApiKeyAuthenticator.HashKey(SecondKey); // the edit is read: this key works
        SettingsFile.Write(files.Directory, settings);
        using var second = host.Client(SecondKey);
        await UntilAsync(second, url, 200, "the second key from the same edit");
        var view = await LastReloadAsync(host, last => last.GetProperty("result").GetString() == "applied");
        Assert.Contains("Kestrel:Endpoints", view.GetProperty("lastReload").GetProperty("needsRestart").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(200, (await InvokeAsync(client, url)).Status);

        // The file deleted (a save that replaces it): refused as gone, and the listener is still there.
        File.Delete(Path.Combine(files.Directory, "appsettings.json"));
        await LastReloadAsync(host, last => last.GetProperty("result").GetString() == "refused");
        Assert.Equal(200, (await InvokeAsync(client, url)).Status);
    }

    /// <summary>A loopback port nothing listens on now.</summary>
    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_caller_key_and_a_grant_are_added_and_revoked_without_a_restart()
    {
        await using var payments = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = With(Base(), ProfileSettings.Standard(files, payments.Port).Settings);
        SettingsFile.Write(files.Directory, settings);
        await using var host = await StandaloneProcess.StartAsync(files.Directory, new Dictionary<string, string>());
        using var first = host.Client(InvokerHost.ApiKey);
        using var second = host.Client(SecondKey);
        var url = $"{payments.BaseAddress}echo";
        await UntilAsync(first, url, 200, "the first caller at start-up");
        Assert.Equal(401, (await InvokeAsync(second, url)).Status);

        settings["Invoker:Callers:ApiKeys:second-bot"] = ApiKeyAuthenticator.HashKey(SecondKey);
        SettingsFile.Write(files.Directory, settings);
        await UntilAsync(second, url, 200, "the key added");

        // A grant narrowed: the profile admits only the first caller.
        settings["Invoker:Profiles:payments:AllowedCallers:0"] = "test-bot";
        SettingsFile.Write(files.Directory, settings);
        var refused = await UntilAsync(second, url, 403, "the caller the profile no longer admits");
        Assert.Equal("caller-not-allowed", refused.Body.GetProperty("code").GetString());
        Assert.Equal(200, (await InvokeAsync(first, url)).Status);

        settings.Remove("Invoker:Callers:ApiKeys:second-bot");
        settings.Remove("Invoker:Profiles:payments:AllowedCallers:0");
        SettingsFile.Write(files.Directory, settings);
        var revoked = await UntilAsync(second, url, 401, "the key revoked");
        Assert.Equal("unauthenticated", revoked.Body.GetProperty("code").GetString());
        Assert.Equal(200, (await InvokeAsync(first, url)).Status);
        var view = await ViewAsync(host);
        Assert.Equal(["test-bot"], view.GetProperty("callers").GetProperty("ApiKeys").GetProperty("value").EnumerateArray().Select(e => e.GetString()));
        Assert.True(view.GetProperty("configuration").GetProperty("lastReload").GetProperty("callersChanged").GetBoolean());
        Assert.DoesNotContain(ApiKeyAuthenticator.HashKey(SecondKey), host.Output + view); // a key's hash is never shown
    }

    [Fact]
    public async Task Without_a_watch_a_reload_on_request_applies_or_refuses_and_names_what_needs_a_restart()
    {
        await using var payments = await Pki.StartBackendAsync();
        await using var billing = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = With(Base(), ProfileSettings.Standard(files, payments.Port).Settings);
        SettingsFile.Write(files.Directory, settings);
        // The operator turned the file watch off (a file system without change notices behaves the same).
        await using var host = await StandaloneProcess.StartAsync(files.Directory, new Dictionary<string, string> { ["DOTNET_hostBuilder__reloadConfigOnChange"] = "false" });
        using var client = host.Client(InvokerHost.ApiKey);
        using var admin = host.Client(InvokerHost.AdminKey);
        using var anonymous = host.Client(null);
        await UntilAsync(client, $"{payments.BaseAddress}echo", 200, "payments at start-up");
        Assert.False((await ViewAsync(host)).GetProperty("configuration").GetProperty("watched").GetBoolean());

        async Task<JsonElement> ReloadAsync()
        {
            using var response = await admin.PostAsync("/api/configuration/reload", null);
            return await InvokerHost.ReadAsync(response, 200);
        }

        // Who may ask: an admin key only; the route takes POST only.
        using (var byCaller = await client.PostAsync("/api/configuration/reload", null))
        {
            await InvokerHost.AssertProblemAsync(byCaller, 403, ErrorCodes.Forbidden);
        }
        using (var byNobody = await anonymous.PostAsync("/api/configuration/reload", null))
        {
            await InvokerHost.AssertProblemAsync(byNobody, 401, ErrorCodes.Unauthenticated);
        }
        using (var get = await admin.GetAsync("/api/configuration/reload"))
        {
            await InvokerHost.AssertProblemAsync(get, 405, ErrorCodes.MethodNotAllowed);
        }

        var unchanged = await ReloadAsync();
        Assert.Equal("unchanged", unchanged.GetProperty("result").GetString());
        Assert.Equal(1, unchanged.GetProperty("live").GetProperty("version").GetInt32());

        // A saved change waits for the request (nothing watches the file) …
        settings = With(settings, ProfileSettings.Standard(files, billing.Port, "billing").Settings);
        settings["Invoker:MaxRequestBytes"] = "65536"; // … and a setting only a restart applies is named, not applied
        SettingsFile.Write(files.Directory, settings);
        var applied = await ReloadAsync();
        Assert.Equal("applied", applied.GetProperty("result").GetString());
        Assert.Equal("request", applied.GetProperty("trigger").GetString());
        Assert.Equal(["billing"], applied.GetProperty("added").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["Invoker:MaxRequestBytes"], applied.GetProperty("needsRestart").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(2, applied.GetProperty("live").GetProperty("version").GetInt32());
        Assert.Equal(200, (await InvokeAsync(client, $"{billing.BaseAddress}echo")).Status);
        await host.WaitForOutputAsync("Settings changed that only a restart applies: Invoker:MaxRequestBytes.");
        var globals = (await ViewAsync(host)).GetProperty("settings");
        Assert.Equal(8 * 1024 * 1024, globals.GetProperty("MaxRequestBytes").GetProperty("value").GetInt32()); // start-up's value serves
        Assert.True(globals.GetProperty("MaxRequestBytes").GetProperty("default").GetBoolean());

        settings["Invoker:Profiles:billing:MaxResponseBytes"] = "ten";
        SettingsFile.Write(files.Directory, settings);
        var refused = await ReloadAsync();
        Assert.Equal("refused", refused.GetProperty("result").GetString());
        Assert.Contains(refused.GetProperty("problems").EnumerateArray(), p => p.GetString()!.StartsWith("Invoker:Profiles:billing:MaxResponseBytes:", StringComparison.Ordinal));
        Assert.Equal(2, refused.GetProperty("live").GetProperty("version").GetInt32());
        Assert.Equal(200, (await InvokeAsync(client, $"{billing.BaseAddress}echo")).Status);
        await host.WaitForOutputAsync("Configuration change refused (reload requested): 1 problem(s); configuration 2");
    }
}
