using ServiceNodeInvoker.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// Load as users measure it: wrk (Debian's package) in its own process against each proxy in its own
/// process — our standalone host, a YARP host built the same way, nginx — all in front of one nginx
/// mTLS backend that trusts only the root (so the intermediate must come from the proxy). Every proxy
/// logs every request as it would in production. Cells are interleaved over rounds; medians are reported.
/// </summary>
public static partial class ExternalLoad
{
    /// <param name="Variants">Extra contenders, each with one more environment variable (KEY=VALUE for passthrough, MODE:KEY=VALUE for another mode): A/B runs of runtime settings, interleaved with the rest.</param>
    /// <param name="Baselines">Folders with other builds of the standalone host (say, the previous commit's), each <c>DIR</c> or
    /// <c>DIR=LABEL</c>: their passthrough and forward run as extra contenders named "(LABEL)" ("(baseline)" without one), interleaved.</param>
    public sealed record Options(TimeSpan Duration, int Rounds, int[] Concurrencies, int[] Sizes, string? Only, IReadOnlyList<string>? Variants = null,
        IReadOnlyList<string>? Baselines = null);

    private sealed record Sample(double RequestsPerSecond, double P50Ms, double P99Ms, long Requests, long Errors,
        double ProxyCpu, double BackendCpu, double WrkCpu);

    public static async Task RunAsync(Options options, Action<string> print)
    {
        if (!File.Exists(Wrk) || !File.Exists(NginxBinary))
        {
            await InstallAsync();
        }
        if (!File.Exists(Wrk) || !File.Exists(NginxBinary))
        {
            print($"(external load skipped: {Wrk} or {NginxBinary} missing and apt-get could not install them)");
            return;
        }
        using var pki = new BenchPki();
        await using var backend = await BackendNginx.StartAsync(pki, options.Sizes);
        var contenders = new List<ExternalProcess>();
        try
        {
            contenders.Add(await ExternalProcess.NginxProxyAsync(pki, backend));
            contenders.Add(await ExternalProcess.YarpAsync(pki, backend));
            contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, "passthrough"));
            contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, "envelope"));
            contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, "forward"));
            foreach (var baseline in options.Baselines ?? [])
            {
                var (folder, label) = baseline.Split('=', 2) is [var f, var l] ? (f, l) : (baseline, "baseline");
                var dll = Path.Combine(Path.GetFullPath(folder), "ServiceNodeInvoker.Standalone.dll");
                contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, "passthrough", baselineDll: dll, baselineLabel: label));
                contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, "forward", baselineDll: dll, baselineLabel: label));
            }
            foreach (var variant in options.Variants ?? [])
            {
                // "KEY=VALUE" for passthrough, "MODE:KEY=VALUE" for another mode (forward, envelope).
                var (mode, setting) = variant.IndexOf(':') is var colon and > 0 && colon < variant.IndexOf('=')
                    ? (variant[..colon], variant[(colon + 1)..]) : ("passthrough", variant);
                contenders.Add(await ExternalProcess.InvokerAsync(pki, backend, mode, setting));
            }
            if (options.Only is { } only)
            {
                // --only NAME[,NAME…]: the contenders whose name contains one of them (nginx always runs: the ratios are to it).
                var names = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                foreach (var dropped in contenders.Where(c => !c.Name.StartsWith("nginx", StringComparison.Ordinal) &&
                             !names.Any(n => c.Name.Contains(n, StringComparison.OrdinalIgnoreCase))).ToArray())
                {
                    contenders.Remove(dropped);
                    await dropped.DisposeAsync(); // out of the list, the finally below would not stop it
                }
            }
            foreach (var contender in contenders.ToArray())
            {
                foreach (var size in options.Sizes)
                {
                    if (await contender.VerifyAsync(backend, size) is { } problem)
                    {
                        print($"({contender.Name} left out: {problem})");
                        contenders.Remove(contender);
                        await contender.DisposeAsync();
                        break;
                    }
                }
            }

            print($"# External load: wrk -t2 --latency, {options.Duration.TotalSeconds:0} s per cell, {options.Rounds} interleaved rounds (medians), " +
                  $"{Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
            print("Backend: nginx, TLS, `ssl_verify_client on` trusting only the root, static JSON files. Every proxy logs every request " +
                  "(nginx: access_log to a file; YARP and ours: the console logger, to a file).");
            // Warm-up, not recorded: JIT and tiered compilation, connection pools, the backend's sessions.
            foreach (var contender in contenders)
            {
                foreach (var size in options.Sizes)
                {
                    await MeasureAsync(contender, backend, size, options.Concurrencies.Max(), Warmup);
                }
            }
            var samples = new Dictionary<(string, int, int), List<Sample>>();
            for (var round = 0; round < options.Rounds; round++)
            {
                foreach (var size in options.Sizes)
                {
                    foreach (var concurrency in options.Concurrencies)
                    {
                        // Every other round runs the contenders in reverse order, so no build always follows the same one
                        // (or always runs last, when the machine's other work has had longest to start).
                        foreach (var contender in round % 2 == 0 ? contenders : Enumerable.Reverse(contenders))
                        {
                            var sample = await MeasureAsync(contender, backend, size, concurrency, options.Duration);
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"  round {round + 1} {Size(size),6} c={concurrency,-3} {contender.Name,-24} {sample.RequestsPerSecond,8:0} req/s p50 {sample.P50Ms,6:0.00} p99 {sample.P99Ms,6:0.00} ms errors {sample.Errors}"));
                            var key = (contender.Name, size, concurrency);
                            if (!samples.TryGetValue(key, out var list)) { samples[key] = list = []; }
                            list.Add(sample);
                        }
                    }
                }
            }

            print("");
            print("| body | conc. | contender | req/s | × nginx | p50 ms | p99 ms | CPU s / 1k req: proxy | backend | wrk | errors |");
            print("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var size in options.Sizes)
            {
                foreach (var concurrency in options.Concurrencies)
                {
                    var nginx = samples.TryGetValue((NginxName, size, concurrency), out var baseline) ? Median(baseline, s => s.RequestsPerSecond) : double.NaN;
                    foreach (var contender in contenders)
                    {
                        var list = samples[(contender.Name, size, concurrency)];
                        var rps = Median(list, s => s.RequestsPerSecond);
                        print(string.Create(CultureInfo.InvariantCulture,
                            $"| {Size(size)} | {concurrency} | {contender.Name} | {rps:0} | {rps / nginx:0.00} | {Median(list, s => s.P50Ms):0.00} | {Median(list, s => s.P99Ms):0.00} | " +
                            $"{Median(list, s => s.ProxyCpu):0.000} | {Median(list, s => s.BackendCpu):0.000} | {Median(list, s => s.WrkCpu):0.000} | {list.Sum(s => s.Errors)} |"));
                    }
                }
            }
            PrintPairs(contenders.Select(c => c.Name).ToList(), samples, options, print);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            // Caught here so the finally below stops every process we started (an unhandled exception would leave them running).
            print($"(external load stopped: {e.Message})");
        }
        finally
        {
            foreach (var contender in contenders) { await contender.DisposeAsync(); }
        }
    }

    /// <summary>
    /// Each build or variant against the contender it varies (its name without the parenthesis), paired by round: both were
    /// measured within the same minute, so the ratio of a round is not moved by the machine's load the way medians are.
    /// </summary>
    private static void PrintPairs(List<string> names, Dictionary<(string, int, int), List<Sample>> samples, Options options, Action<string> print)
    {
        var pairs = names.Where(n => n.EndsWith(')') && n.Contains(" (", StringComparison.Ordinal))
            .Select(n => (Variant: n, Of: n[..n.LastIndexOf(" (", StringComparison.Ordinal)])).Where(p => names.Contains(p.Of)).ToList();
        if (pairs.Count == 0) { return; }
        print("");
        print("| body | conc. | contender | × nginx, per round | × nginx, median | req/s, per round | CPU s / 1k req, median | this ÷ the other, per round | median |");
        print("|---|---|---|---|---|---|---|---|---|");
        foreach (var size in options.Sizes)
        {
            foreach (var concurrency in options.Concurrencies)
            {
                if (!samples.TryGetValue((NginxName, size, concurrency), out var nginx)) { continue; }
                foreach (var (variant, of) in pairs)
                {
                    var (mine, theirs) = (samples[(of, size, concurrency)], samples[(variant, size, concurrency)]);
                    string Row(string name, List<Sample> list, List<Sample>? other)
                    {
                        var ratios = list.Select((s, i) => s.RequestsPerSecond / nginx[i].RequestsPerSecond).ToList();
                        var versus = other is null ? null : list.Select((s, i) => s.RequestsPerSecond / other[i].RequestsPerSecond).ToList();
                        static string Joined(IEnumerable<double> values, string format) =>
                            string.Join(" · ", values.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));
                        var head = FormattableString.Invariant(
                            $"| {Size(size)} | {concurrency} | {name} | {Joined(ratios, "0.00")} | {MedianOf(ratios):0.00} | {Joined(list.Select(s => s.RequestsPerSecond), "0")} | {Median(list, s => s.ProxyCpu):0.000} | ");
                        return head + (versus is null ? " | |" : FormattableString.Invariant($"{Joined(versus, "0.00")} | **{MedianOf(versus):0.00}** |"));
                    }
                    print(Row(of, mine, theirs));
                    print(Row(variant, theirs, null));
                }
            }
        }
    }

    private static double MedianOf(List<double> values) => Median(values.Select(v => new Sample(v, 0, 0, 0, 0, 0, 0, 0)).ToList(), s => s.RequestsPerSecond);

    private static double Median(List<Sample> samples, Func<Sample, double> value)
    {
        var sorted = samples.Select(value).Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task<Sample> MeasureAsync(ExternalProcess contender, BackendNginx backend, int size, int concurrency, TimeSpan duration)
    {
        var script = contender.WrkScript(backend, size);
        var (proxyBefore, backendBefore) = (contender.CpuSeconds(), backend.CpuSeconds());
        var wrk = new ProcessStartInfo("bash", ["-c",
            $"{Wrk} -t2 -c{concurrency} -d{duration.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s --timeout 10s --latency -s {script} {contender.BaseUrl}; times"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(wrk)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var proxyCpu = contender.CpuSeconds() - proxyBefore;
        var backendCpu = backend.CpuSeconds() - backendBefore;
        var requests = long.Parse(Match(output, @"(\d+) requests in") ?? "0", CultureInfo.InvariantCulture);
        var errors = long.Parse(Match(output, @"Non-2xx or 3xx responses: (\d+)") ?? "0", CultureInfo.InvariantCulture) + SocketErrors(output);
        var rps = double.Parse(Match(output, @"Requests/sec:\s+([\d.]+)") ?? "0", CultureInfo.InvariantCulture);
        // bash's `times`: the second line is the children's (wrk's) user and system time.
        var times = TimesPattern().Matches(output);
        var wrkCpu = times.Count >= 4 ? TimesSeconds(times[2]) + TimesSeconds(times[3]) : double.NaN;
        double Per1000(double cpu) => requests == 0 ? double.NaN : cpu / requests * 1000;
        return new Sample(rps, Latency(output, "50"), Latency(output, "99"), requests, errors,
            Per1000(proxyCpu), Per1000(backendCpu), Per1000(wrkCpu));
    }

    private static long SocketErrors(string output)
    {
        var m = Regex.Match(output, @"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)");
        return m.Success ? Enumerable.Range(1, 4).Sum(i => long.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture)) : 0;
    }

    private static string? Match(string text, string pattern) => Regex.Match(text, pattern) is { Success: true } m ? m.Groups[1].Value : null;

    private static double Latency(string output, string percentile)
    {
        var m = Regex.Match(output, $@"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        if (!m.Success) { return double.NaN; }
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => value / 1000, "ms" => value, "s" => value * 1000, _ => value * 60_000 };
    }

    [GeneratedRegex(@"(\d+)m([\d.]+)s")]
    private static partial Regex TimesPattern();

    private static double TimesSeconds(System.Text.RegularExpressions.Match m) =>
        int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 60 + double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);

    public const string Wrk = "/usr/bin/wrk";
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(4);
    private const string NginxName = "nginx proxy_ssl";
    public const string NginxBinary = "/usr/sbin/nginx";

    private static async Task InstallAsync()
    {
        Console.WriteLine("wrk or nginx missing: installing Debian's wrk and nginx-light …");
        foreach (var step in new[] { "apt-get update -qq", "apt-get install -y -qq wrk nginx-light", "nginx -s stop || true" })
        {
            using var process = Process.Start(new ProcessStartInfo("sh", ["-c", step]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            await process.WaitForExitAsync();
        }
    }

    private static string Size(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / 1048576} MiB" : $"{bytes / 1024} KiB";

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>CPU seconds (user + system) of a process and all its descendants, from /proc.</summary>
    public static double TreeCpuSeconds(int root)
    {
        var stats = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) { continue; }
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // after "pid (comm) ": state(0) ppid(1) … utime(11) stime(12)
                stats[pid] = (int.Parse(fields[1], CultureInfo.InvariantCulture),
                    long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        long total = 0;
        var pending = new Queue<int>([root]);
        while (pending.TryDequeue(out var pid))
        {
            if (!stats.TryGetValue(pid, out var entry)) { continue; }
            total += entry.Ticks;
            foreach (var (child, value) in stats) { if (value.Parent == pid) { pending.Enqueue(child); } }
        }
        return total / 100.0; // USER_HZ
    }

    /// <summary>nginx's temporary folders inside its own prefix (the defaults need root-owned paths).</summary>
    private static string TempPaths(string prefix) => string.Join(' ',
        new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }.Select(kind => $"{kind}_temp_path {prefix}/tmp/{kind};"));

    /// <summary>The mTLS backend every proxy talks to: nginx, one worker, static JSON files.</summary>
    public sealed class BackendNginx : IAsyncDisposable
    {
        private readonly Process _process;

        private BackendNginx(Process process, int port, string root) { _process = process; Port = port; Root = root; }

        public int Port { get; }
        public string Root { get; }
        public static string PathFor(int size) => $"/data-{size}.json";
        public Uri Url(int size) => new($"https://localhost:{Port}{PathFor(size)}");
        public double CpuSeconds() => TreeCpuSeconds(_process.Id);

        public static async Task<BackendNginx> StartAsync(BenchPki pki, int[] sizes)
        {
            var prefix = Path.Combine(pki.Directory, "backend-nginx");
            var root = Path.Combine(prefix, "html");
            Directory.CreateDirectory(Path.Combine(prefix, "logs"));
            Directory.CreateDirectory(Path.Combine(prefix, "tmp"));
            Directory.CreateDirectory(root);
            foreach (var size in sizes)
            {
                await File.WriteAllBytesAsync(root + PathFor(size), LoadHarness.Payload(size));
            }
            // nginx's workers run as an unprivileged user: let them reach the files (the temp folder is 0700).
            foreach (var dir in new[] { pki.Directory, prefix, root })
            {
                if (OperatingSystem.IsWindows()) { break; }
                File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.OtherRead);
            }
            var port = FreePort();
            var conf = Path.Combine(prefix, "nginx.conf");
            await File.WriteAllTextAsync(conf, $$"""
                {{NginxConfig.Preamble(prefix, workers: 1, connections: 4096)}}
                http {
                  access_log off;
                  {{TempPaths(prefix)}}
                  keepalive_requests 10000000;
                  keepalive_timeout 300s;
                  server {
                    listen 127.0.0.1:{{port}} ssl;
                    server_name localhost;
                    ssl_certificate {{pki.ServerChainPem}};
                    ssl_certificate_key {{pki.ServerKeyPem}};
                    ssl_client_certificate {{pki.RootPem}};
                    ssl_verify_client on;
                    ssl_verify_depth 3;
                    ssl_session_cache off;
                    ssl_session_tickets off;
                    location / { root {{root}}; default_type application/json; }
                  }
                }
                """);
            var log = Path.Combine(prefix, "logs", "stderr.log");
            var process = ExternalProcess.Start(NginxBinary, $"-p {prefix} -c {conf}", log, null);
            await ExternalProcess.WaitForPortAsync(process, port, log);
            return new BackendNginx(process, port, root);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
            _process.Dispose();
        }
    }

    /// <summary>A proxy under test in its own process, logging as deployed, with the wrk script that drives it.</summary>
    public sealed class ExternalProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Func<BackendNginx, int, string> _script;
        private readonly Func<BackendNginx, int, HttpRequestMessage> _request;

        private ExternalProcess(string name, Process process, int port, Func<BackendNginx, int, string> script, Func<BackendNginx, int, HttpRequestMessage> request)
        {
            Name = name;
            _process = process;
            BaseUrl = $"http://127.0.0.1:{port}";
            _script = script;
            _request = request;
        }

        public string Name { get; }
        public string BaseUrl { get; }
        public int Pid => _process.Id;
        public double CpuSeconds() => TreeCpuSeconds(_process.Id);

        /// <summary>The wrk Lua script that sends this contender's request for a body of this size.</summary>
        public string WrkScript(BackendNginx backend, int size)
        {
            var path = Path.Combine(backend.Root, "..", $"wrk-{string.Concat(Name.Where(char.IsLetterOrDigit))}-{size}.lua");
            File.WriteAllText(path, _script(backend, size));
            return path;
        }

        /// <summary>One request first: the contender must really return the payload, or its numbers mean nothing.</summary>
        public async Task<string?> VerifyAsync(BackendNginx backend, int size)
        {
            using var client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
            using var request = _request(backend, size);
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            var payload = LoadHarness.Payload(size);
            if (!response.IsSuccessStatusCode)
            {
                return $"status {(int)response.StatusCode}: {Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(300, body.Length)))}";
            }
            return body.AsSpan().IndexOf(payload.AsSpan(0, 64)) >= 0 && body.Length >= payload.Length
                ? null : $"the response ({body.Length} bytes) does not hold the payload ({payload.Length} bytes)";
        }

        private static string GetScript() => "wrk.method = \"GET\"\n";

        public static async Task<ExternalProcess> NginxProxyAsync(BenchPki pki, BackendNginx backend)
        {
            var prefix = Path.Combine(pki.Directory, "proxy-nginx");
            Directory.CreateDirectory(Path.Combine(prefix, "logs"));
            Directory.CreateDirectory(Path.Combine(prefix, "tmp"));
            var port = FreePort();
            var conf = Path.Combine(prefix, "nginx.conf");
            await File.WriteAllTextAsync(conf, $$"""
                daemon off;
                worker_processes auto;
                pid {{prefix}}/nginx.pid;
                error_log stderr error;
                events { worker_connections 4096; }
                http {
                  access_log {{prefix}}/logs/access.log combined;
                  {{TempPaths(prefix)}}
                  keepalive_requests 10000000;
                  upstream backend { server 127.0.0.1:{{backend.Port}}; keepalive 128; keepalive_requests 10000000; }
                  server {
                    listen 127.0.0.1:{{port}};
                    location / {
                      {{Nginx.ProxySsl(pki)}}
                    }
                  }
                }
                """);
            var log = Path.Combine(prefix, "logs", "stderr.log");
            var process = Start(NginxBinary, $"-p {prefix} -c {conf}", log, null);
            await WaitForPortAsync(process, port, log);
            return new ExternalProcess(NginxName, process, port, (_, size) => GetScript() + $"wrk.path = \"{BackendNginx.PathFor(size)}\"\n",
                (_, size) => new HttpRequestMessage(HttpMethod.Get, BackendNginx.PathFor(size)));
        }

        public static async Task<ExternalProcess> YarpAsync(BenchPki pki, BackendNginx backend)
        {
            var port = FreePort();
            var log = Path.Combine(pki.Directory, "yarp.log");
            var dll = Path.Combine(AppContext.BaseDirectory, "ServiceNodeInvoker.Bench.dll");
            var process = Start("dotnet", $"\"{dll}\" yarp-host {port} https://localhost:{backend.Port}/ \"{pki.ClientPfx}\" \"{pki.RootPem}\"", log,
                new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" });
            await WaitForPortAsync(process, port, log);
            return new ExternalProcess("YARP host", process, port, (_, size) => GetScript() + $"wrk.path = \"{BackendNginx.PathFor(size)}\"\n",
                (_, size) => new HttpRequestMessage(HttpMethod.Get, BackendNginx.PathFor(size)));
        }

        /// <param name="mode">passthrough or envelope (POST /api/invoke), or forward (GET /api/forward/bench/…).</param>
        /// <param name="baselineDll">Another build of the standalone host, named "(<paramref name="baselineLabel"/>)" in the table.</param>
        public static async Task<ExternalProcess> InvokerAsync(BenchPki pki, BackendNginx backend, string mode, string? variant = null, string? baselineDll = null,
            string baselineLabel = "baseline")
        {
            var start = StandaloneHostProcess.StartInfo(pki, backend.Port, out var port, logLevel: null, baselineDll);
            var log = Path.Combine(pki.Directory, baselineDll is null ? $"invoker-{mode}.log" : $"invoker-{mode}-{string.Concat(baselineLabel.Where(char.IsLetterOrDigit))}.log");
            variant ??= baselineDll is null ? null : baselineLabel;
            var env = start.Environment.Where(e => e.Key.StartsWith("Invoker__", StringComparison.Ordinal))
                .ToDictionary(e => e.Key, e => e.Value ?? "");
            if (mode == "forward")
            {
                env["Invoker__Profiles__bench__BaseUrl"] = $"https://localhost:{backend.Port}/";
            }
            if (baselineDll is null && variant?.Split('=', 2) is [var key, var value])
            {
                env[key] = value;
                log = Path.Combine(pki.Directory, $"invoker-{mode}-{key}.log");
            }
            var process = Start("dotnet", start.Arguments, log, env, start.WorkingDirectory);
            await WaitForPortAsync(process, port, log);
            string Envelope(BackendNginx b, int size) => $"{{\"method\":\"GET\",\"url\":\"{b.Url(size)}\",\"response\":\"{mode}\"}}";
            if (mode == "forward")
            {
                return new ExternalProcess(variant is null ? "invoker, forward" : $"invoker, forward ({variant})", process, port,
                    (_, size) => GetScript() + $"wrk.path = \"/api/forward/bench{BackendNginx.PathFor(size)}\"\nwrk.headers[\"{ApiKeyAuthenticator.HeaderName}\"] = \"{StandaloneHostProcess.ApiKey}\"\n",
                    (_, size) => new HttpRequestMessage(HttpMethod.Get, $"/api/forward/bench{BackendNginx.PathFor(size)}")
                    {
                        Headers = { { ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey } },
                    });
            }
            return new ExternalProcess(variant is null ? $"invoker, {mode}" : $"invoker, {mode} ({variant})", process, port,
                (b, size) => $"wrk.method = \"POST\"\nwrk.path = \"/api/invoke\"\nwrk.body = [[{Envelope(b, size)}]]\n" +
                             $"wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"{ApiKeyAuthenticator.HeaderName}\"] = \"{StandaloneHostProcess.ApiKey}\"\n",
                (b, size) => new HttpRequestMessage(HttpMethod.Post, "/api/invoke")
                {
                    Content = new StringContent(Envelope(b, size), Encoding.UTF8, "application/json"),
                    Headers = { { ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey } },
                });
        }

        /// <summary>Starts a process whose output goes straight to a file (no pipe for the harness to drain).</summary>
        public static Process Start(string file, string arguments, string log, IDictionary<string, string>? env, string? workingDirectory = null)
        {
            var start = new ProcessStartInfo("sh", ["-c", $"exec {file} {arguments} >>\"{log}\" 2>&1"])
            {
                WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
            };
            foreach (var (key, value) in env ?? new Dictionary<string, string>()) { start.Environment[key] = value; }
            return Process.Start(start)!;
        }

        public static async Task WaitForPortAsync(Process process, int port, string? log = null)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(25); // starting: poll until it listens, bounded by the deadline
                }
                catch (SocketException)
                {
                    throw new InvalidOperationException($"{process.StartInfo.ArgumentList.LastOrDefault()} did not listen on {port}: " +
                        (log is not null && File.Exists(log) ? File.ReadAllText(log) : "(no log)"));
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
            _process.Dispose();
        }
    }
}
