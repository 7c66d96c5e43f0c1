using System.Diagnostics;
using System.Globalization;
using System.Text;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.TestSupport;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// What a token costs in steady state: the standalone host in its own process with two profiles on the same
/// <see cref="OAuthServer"/> — 'plain' owning 127.0.0.1:port, 'token' owning localhost:port with a token source —
/// both calling the same route, which checks nothing, so the only difference is the invoker's token path (the
/// cache lookup, the Authorization header). Interleaved rounds of closed-loop envelope load; medians of the rounds;
/// and the token requests made during the measured load (the claim: none).
/// </summary>
public static class TokenBenchmark
{
    public static async Task RunAsync(TimeSpan duration, int rounds, int concurrency, Action<string> write)
    {
        var pki = TestPki.Instance;
        await using var server = await OAuthServer.StartAsync(new OAuthClient("bench", ClientAuth.TlsClientAuth) { SubjectDn = pki.ClientRsa.Subject });
        using var files = new TempFiles();
        var pfx = files.Pfx("client.pfx", "bench", pki.ClientRsa, pki.IntermediatePublic);
        var root = files.CertificatePem("root.pem", pki.RootPublic);
        var port = ExternalLoad.FreePort();
        var dll = Path.Combine(AppContext.BaseDirectory, "ServiceNodeInvoker.Standalone.dll");
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory,
        };
        var env = start.Environment;
        env["Invoker__AllowLoopback"] = "true";
        env["Invoker__Callers__ApiKeys__bench"] = ApiKeyAuthenticator.HashKey(StandaloneHostProcess.ApiKey);
        env["Logging__LogLevel__Default"] = "Warning";
        foreach (var (profile, host) in new[] { ("plain", "127.0.0.1"), ("token", "localhost") })
        {
            env[$"Invoker__Profiles__{profile}__Hosts__0"] = $"{host}:{server.Port}";
            env[$"Invoker__Profiles__{profile}__ClientCertificate__Source"] = "File";
            env[$"Invoker__Profiles__{profile}__ClientCertificate__Path"] = pfx;
            env[$"Invoker__Profiles__{profile}__ClientCertificate__Password"] = "bench";
            env[$"Invoker__Profiles__{profile}__TrustedCa__Source"] = "File";
            env[$"Invoker__Profiles__{profile}__TrustedCa__Path"] = root;
        }
        env["Invoker__Profiles__token__Token__Endpoint"] = server.TokenEndpoint;
        env["Invoker__Profiles__token__Token__ClientId"] = "bench";
        env["Invoker__Profiles__token__Token__ClientAuthentication"] = "TlsClientAuth";
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey);
            var targets = new Dictionary<string, string>
            {
                ["without token"] = $"{{\"method\":\"GET\",\"url\":\"https://127.0.0.1:{server.Port}/open\"}}",
                ["with token"] = $"{{\"method\":\"GET\",\"url\":\"https://localhost:{server.Port}/open\"}}",
            };
            await Poll.UntilAsync(() => Ready(client, targets.Values.First()), "the standalone host to answer", TimeSpan.FromSeconds(60));
            foreach (var target in targets.Values)
            {
                for (var i = 0; i < 200; i++)
                {
                    await CallAsync(client, target); // connections open, token cached, code warm
                }
            }
            var tokenRequestsBefore = server.TokenRequests;
            var results = targets.Keys.ToDictionary(k => k, _ => new List<(double Rps, double Median, double P99)>());
            for (var round = 0; round < rounds; round++)
            {
                var order = round % 2 == 0 ? targets.Keys.ToArray() : targets.Keys.Reverse().ToArray();
                foreach (var name in order)
                {
                    results[name].Add(await LoadAsync(client, targets[name], duration, concurrency));
                }
            }
            var tokenRequestsDuring = server.TokenRequests - tokenRequestsBefore;
            write($"Token cost in steady state: {rounds} interleaved rounds × {duration.TotalSeconds:0} s, {concurrency} callers, envelope GET of a small JSON body over mutual TLS (standalone host, own process)");
            write("| | req/s (median of rounds) | median latency (ms) | p99 (ms) |");
            write("|---|---|---|---|");
            foreach (var (name, runs) in results)
            {
                write(FormattableString.Invariant($"| {name} | {Median(runs.Select(r => r.Rps)):0} | {Median(runs.Select(r => r.Median)):0.00} | {Median(runs.Select(r => r.P99)):0.00} |"));
            }
            var plain = results["without token"];
            var token = results["with token"];
            write(FormattableString.Invariant($"ratio with/without: req/s {Median(token.Select(r => r.Rps)) / Median(plain.Select(r => r.Rps)):0.00}×, median latency {Median(token.Select(r => r.Median)) / Median(plain.Select(r => r.Median)):0.00}×"));
            write(FormattableString.Invariant($"per round (req/s without / with): {string.Join("; ", plain.Zip(token, (p, t) => $"{p.Rps:0} / {t.Rps:0}"))}"));
            write($"token requests during the measured load: {tokenRequestsDuring} (one before it, at the first call: {tokenRequestsBefore})");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static bool Ready(HttpClient client, string target)
    {
        try
        {
            using var response = client.PostAsync("/api/invoke", new StringContent(target, Encoding.UTF8, "application/json")).GetAwaiter().GetResult();
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static async Task CallAsync(HttpClient client, string target)
    {
        using var response = await client.PostAsync("/api/invoke", new StringContent(target, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || !body.Contains("\"status\":200", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the bench call failed: {(int)response.StatusCode} {body}");
        }
    }

    private static async Task<(double Rps, double Median, double P99)> LoadAsync(HttpClient client, string target, TimeSpan duration, int concurrency)
    {
        var latencies = new List<double>[concurrency];
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = new List<double>(4096);
            while (Stopwatch.GetTimestamp() < until)
            {
                var started = Stopwatch.GetTimestamp();
                await CallAsync(client, target);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }));
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return (all.Length / watch.Elapsed.TotalSeconds, all[all.Length / 2], all[(int)(all.Length * 0.99)]);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
