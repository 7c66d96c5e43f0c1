using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Standalone.Demo;
using ServiceNodeInvoker.TestSupport;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// A scale-out storm on one machine: N standalone hosts launched at once as N new instances, each with P Key Vault profiles
/// (and T token profiles), every profile called C times as soon as its instance listens; one Key Vault fake and one token
/// endpoint with a rate limit (429, Retry-After: 1 beyond it). Prints the invocations answered, failures by code and cause,
/// vault and token requests (sent, refused), and per instance the time from launch to its last first answer. Loopback only;
/// every process is killed at the end of a run.
/// </summary>
public static class Storm
{
    /// <param name="Instances">Host processes started at once.</param>
    /// <param name="Profiles">Key Vault profiles per instance, each its own certificate in the vault and its own backend.</param>
    /// <param name="VaultRate">GETs per second the vault serves; beyond it, 429 with Retry-After: 1.</param>
    /// <param name="Calls">Invocations per profile and instance, all sent at once when the instance listens.</param>
    /// <param name="Forbidden">The vault answers 403 to everything: the storm over a certificate that cannot be loaded.</param>
    /// <param name="TokenProfiles">Profiles per instance with a token source (file certificate; the token endpoint's rate limit).</param>
    /// <param name="TokenRate">Token requests per second the authorization server answers; beyond it, 429 with Retry-After: 1.</param>
    /// <param name="HostFolder">A build of the standalone host to run (a baseline), or null for the one beside the harness.</param>
    public sealed record Options(int Instances, int Profiles, int VaultRate, int Calls, bool Forbidden, int TokenProfiles, int TokenRate,
        string? HostFolder, int Runs, string Label, bool TokenEndpointInHosts = false, bool OneTokenEndpoint = false);

    private sealed record Answer(string Profile, int Status, string? Code, string? Cause, double AtMs, double TookMs);

    private sealed record Result(int Invocations, int Ok, IReadOnlyDictionary<string, int> Failures, int VaultSent, int VaultRefused,
        int TokenSent, int TokenRefused, int InstancesAllOk, double LastFirstAnswerMedianMs, double LastFirstAnswerMaxMs, double TookMedianMs, double TookMaxMs);

    public static async Task RunAsync(Options options, Action<string> print)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture; // figures with a decimal point
        var results = new List<Result>();
        for (var run = 1; run <= options.Runs; run++)
        {
            var result = await RunOnceAsync(options);
            results.Add(result);
            print((
                $"  run {run}: {result.Ok}/{result.Invocations} answered 200; failures {Describe(result.Failures)}; vault {result.VaultSent} sent, {result.VaultRefused} refused; " +
                $"token {result.TokenSent} sent, {result.TokenRefused} refused; instances with every invocation 200: {result.InstancesAllOk}/{options.Instances}; " +
                $"launch → last first answer: median {result.LastFirstAnswerMedianMs / 1000:0.0} s, max {result.LastFirstAnswerMaxMs / 1000:0.0} s; " +
                $"invocation sent → answered: median {result.TookMedianMs / 1000:0.00} s, max {result.TookMaxMs / 1000:0.00} s"));
        }
        var minimalVault = options.Instances * options.Profiles;
        var minimalToken = options.Instances * options.TokenProfiles;
        print("");
        print((
            $"# Storm {options.Label}: {options.Instances} instances × {options.Profiles} Key Vault profiles" +
            (options.TokenProfiles > 0 ? $" + {options.TokenProfiles} token profiles ({options.TokenRate} token requests/s{(options.OneTokenEndpoint ? ", one token endpoint" : "")})" : "") +
            $", vault {options.VaultRate} GETs/s{(options.Forbidden ? " answering 403" : "")}, {options.Calls} call(s) per profile; {options.Runs} run(s), median; " +
            $"{Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"));
        print("| build | answered 200 | failures | vault GETs sent (refused) | × minimal | token requests sent (refused) | instances all 200 | launch → last first answer, median / max s | invocation, median / max s |");
        print("|---|---|---|---|---|---|---|---|---|");
        print((
            $"| {options.Label} | {Median(results.Select(r => (double)r.Ok)):0}/{results[0].Invocations} | {string.Join("; ", results.Select(r => Describe(r.Failures)))} | " +
            $"{Median(results.Select(r => (double)r.VaultSent)):0} ({Median(results.Select(r => (double)r.VaultRefused)):0}) | " +
            (minimalVault == 0 ? "– | " : $"{Median(results.Select(r => (double)r.VaultSent)) / minimalVault:0.00} | ") +
            (minimalToken == 0 ? "– | " : $"{Median(results.Select(r => (double)r.TokenSent)):0} ({Median(results.Select(r => (double)r.TokenRefused)):0}) | ") +
            $"{Median(results.Select(r => (double)r.InstancesAllOk)):0}/{options.Instances} | " +
            $"{Median(results.Select(r => r.LastFirstAnswerMedianMs)) / 1000:0.0} / {Median(results.Select(r => r.LastFirstAnswerMaxMs)) / 1000:0.0} | " +
            $"{Median(results.Select(r => r.TookMedianMs)) / 1000:0.00} / {Median(results.Select(r => r.TookMaxMs)) / 1000:0.00} |"));
    }

    private static string Describe(IReadOnlyDictionary<string, int> failures) =>
        failures.Count == 0 ? "none" : string.Join(", ", failures.OrderByDescending(f => f.Value).Select(f => $"{f.Value}× {f.Key}"));

    private static async Task<Result> RunOnceAsync(Options options)
    {
        var pki = TestPki.Instance;
        using var files = new TempFiles();
        await using var vault = await KeyVaultFake.StartAsync();
        vault.RequireToken = false; // see KeyVaultFake.RequireToken: the host in another process reads without a token
        for (var i = 0; i < options.Profiles; i++)
        {
            vault.SetPkcs12($"client-{i}", pki.ClientRsa, pki.IntermediatePublic);
        }
        if (options.Forbidden)
        {
            vault.Behaviour = VaultBehaviour.Forbidden;
        }
        vault.Limit = new RateLimit(options.VaultRate, retryAfterSeconds: 1);
        // One authorization server per token profile, all sharing one rate limit: to the invoker, one endpoint's limit seen
        // through several addresses (builds before issue 32 wanted each profile to own its token endpoint's host:port, and a
        // host:port has one owner: --token-endpoint-in-hosts for those).
        var tokenLimit = new RateLimit(options.TokenRate, retryAfterSeconds: 1);
        var tokenServers = new List<OAuthServer>();
        for (var j = 0; j < options.TokenProfiles; j++)
        {
            var server = await OAuthServer.StartAsync(new OAuthClient("bench", ClientAuth.TlsClientAuth) { SubjectDn = pki.ClientRsa.Subject });
            server.Limit = tokenLimit;
            tokenServers.Add(server);
        }
        var backends = new List<MutualTlsBackend>();
        try
        {
            for (var i = 0; i < options.Profiles + options.TokenProfiles; i++)
            {
                backends.Add(await pki.StartBackendAsync());
            }
            const string system = "/etc/ssl/certs/ca-certificates.crt";
            var trust = files.Text("trust.pem", (File.Exists(system) ? File.ReadAllText(system) : "") + pki.RootPublic.ExportCertificatePem());
            var root = files.CertificatePem("root.pem", pki.RootPublic);
            var pfx = files.Pfx("client.pfx", "bench", pki.ClientRsa, pki.IntermediatePublic);
            var folder = options.HostFolder ?? AppContext.BaseDirectory;
            var dll = Path.Combine(folder, "ServiceNodeInvoker.Standalone.dll");

            var instances = new List<(Process Process, int Port, StringBuilder Errors)>();
            var clock = Stopwatch.StartNew();
            for (var n = 0; n < options.Instances; n++)
            {
                var port = ExternalLoad.FreePort();
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
                start.ArgumentList.Add(dll);
                start.ArgumentList.Add("--urls");
                start.ArgumentList.Add($"http://127.0.0.1:{port}");
                var env = start.Environment;
                env["DOTNET_NOLOGO"] = "1";
                env["SSL_CERT_FILE"] = trust;
                env["Invoker__AllowLoopback"] = "true";
                env["Invoker__Callers__ApiKeys__bench"] = ApiKeyAuthenticator.HashKey(StandaloneHostProcess.ApiKey);
                env["Logging__LogLevel__Default"] = "Warning";
                for (var i = 0; i < options.Profiles; i++)
                {
                    var p = $"Invoker__Profiles__kv{i}__";
                    env[p + "Hosts__0"] = $"localhost:{backends[i].Port}";
                    env[p + "ClientCertificate__Source"] = "KeyVault";
                    env[p + "ClientCertificate__VaultUri"] = vault.VaultUri.ToString();
                    env[p + "ClientCertificate__Name"] = $"client-{i}";
                    env[p + "TrustedCa__Source"] = "File";
                    env[p + "TrustedCa__Path"] = root;
                }
                for (var j = 0; j < options.TokenProfiles; j++)
                {
                    var p = $"Invoker__Profiles__tk{j}__";
                    env[p + "Hosts__0"] = $"localhost:{backends[options.Profiles + j].Port}";
                    env[p + "ClientCertificate__Source"] = "File";
                    env[p + "ClientCertificate__Path"] = pfx;
                    env[p + "ClientCertificate__Password"] = "bench";
                    env[p + "TrustedCa__Source"] = "File";
                    env[p + "TrustedCa__Path"] = root;
                    if (options.TokenEndpointInHosts)
                    {
                        env[p + "Hosts__1"] = $"localhost:{tokenServers[j].Port}"; // builds before issue 32 required it; later ones refuse it
                    }
                    // Since issue 32 profiles may share one token endpoint (its host:port in no profile's Hosts).
                    env[p + "Token__Endpoint"] = tokenServers[options.OneTokenEndpoint ? 0 : j].TokenEndpoint;
                    env[p + "Token__ClientId"] = "bench";
                    env[p + "Token__ClientAuthentication"] = "TlsClientAuth";
                }
                var process = Process.Start(start)!;
                var errors = new StringBuilder();
                process.OutputDataReceived += (_, e) => { if (e.Data is { } line) { lock (errors) { errors.AppendLine(line); } } };
                process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { lock (errors) { errors.AppendLine(line); } } };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                instances.Add((process, port, errors));
            }
            try
            {
                var targets = Enumerable.Range(0, options.Profiles).Select(i => ($"kv{i}", backends[i].BaseAddress))
                    .Concat(Enumerable.Range(0, options.TokenProfiles).Select(j => ($"tk{j}", backends[options.Profiles + j].BaseAddress))).ToList();
                var answers = await Task.WhenAll(instances.Select(i => DriveAsync(i.Process, i.Port, i.Errors, targets, options.Calls, clock)));
                var all = answers.SelectMany(a => a).ToList();
                var failures = all.Where(a => a.Status != 200).GroupBy(a => $"{a.Status} {a.Code}{(a.Cause is null ? "" : $" ({a.Cause})")}")
                    .ToDictionary(g => g.Key, g => g.Count());
                var lastFirst = answers.Select(a => a.GroupBy(x => x.Profile).Select(g => g.Min(x => x.AtMs)).DefaultIfEmpty(double.NaN).Max()).ToList();
                return new Result(all.Count, all.Count(a => a.Status == 200), failures,
                    vault.SecretGets + vault.CertificateGets, vault.Throttled, tokenServers.Sum(t => t.TokenRequests), tokenLimit.Refused,
                    answers.Count(a => a.All(x => x.Status == 200)), Median(lastFirst), lastFirst.Max(),
                    Median(all.Select(a => a.TookMs)), all.Max(a => a.TookMs));
            }
            finally
            {
                foreach (var (process, _, _) in instances)
                {
                    if (!process.HasExited)
                    {
                        process.Kill();
                    }
                    await process.WaitForExitAsync();
                    process.Dispose();
                }
            }
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
            foreach (var server in tokenServers)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>One instance: waits until it listens, then sends every profile's calls at once and collects the answers.</summary>
    private static async Task<List<Answer>> DriveAsync(Process process, int port, StringBuilder output, IReadOnlyList<(string Profile, Uri Backend)> targets, int calls, Stopwatch clock)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(120) };
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey);
        var listening = TimeSpan.FromSeconds(120);
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                lock (output)
                {
                    throw new InvalidOperationException($"an instance exited with code {process.ExitCode} before it listened:\n{output}");
                }
            }
            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync("127.0.0.1", port);
                break;
            }
            catch (SocketException) when (clock.Elapsed < listening)
            {
                await Task.Delay(20); // the poll interval, bounded by the deadline above
            }
        }
        var answers = new ConcurrentBag<Answer>();
        await Task.WhenAll(targets.SelectMany(t => Enumerable.Range(0, calls).Select(async _ =>
        {
            var body = $"{{\"method\":\"GET\",\"url\":\"{t.Backend}echo\",\"profile\":\"{t.Profile}\"}}";
            var sent = clock.Elapsed.TotalMilliseconds;
            try
            {
                using var response = await client.PostAsync("/api/invoke", new StringContent(body, Encoding.UTF8, "application/json"));
                var text = await response.Content.ReadAsStringAsync();
                string? code = null, cause = null;
                if ((int)response.StatusCode != 200 && text.StartsWith('{'))
                {
                    using var problem = JsonDocument.Parse(text);
                    code = problem.RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
                    cause = problem.RootElement.TryGetProperty("cause", out var k) ? k.GetString() : null;
                }
                answers.Add(new Answer(t.Profile, (int)response.StatusCode, code, cause, clock.Elapsed.TotalMilliseconds, clock.Elapsed.TotalMilliseconds - sent));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                answers.Add(new Answer(t.Profile, 0, e.GetType().Name, null, clock.Elapsed.TotalMilliseconds, clock.Elapsed.TotalMilliseconds - sent));
            }
        })));
        return answers.ToList();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
