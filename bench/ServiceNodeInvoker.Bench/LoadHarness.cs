using System.Diagnostics;
using System.Globalization;
using System.Text;
using Azure.Core;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Standalone.Demo;
using ServiceNodeInvoker.TestSupport;

namespace ServiceNodeInvoker.Bench;

public sealed record CellResult(string Contender, int Concurrency, int Size, long Requests, long Errors, double Seconds,
    double P50Ms, double P99Ms, double CpuSecondsPer1000, long Handshakes)
{
    public double RequestsPerSecond => Requests / Seconds;
}

/// <summary>
/// Every contender against the same mTLS backend, one after another in one run, so ratios hold on a
/// noisy machine. The load driver and the backend live in this process for every contender alike;
/// the proxies under test (ours, YARP) too, nginx in its own processes (its CPU is added).
/// </summary>
public static class LoadHarness
{
    private static readonly int[] Concurrencies = [1, 16, 64];
    private static readonly int[] Sizes = [1024, 64 * 1024, 1024 * 1024];

    /// <returns>The table and counters as printed (markdown).</returns>
    public static async Task<string> RunAsync(TimeSpan duration, string? only = null)
    {
        using var pki = new BenchPki();
        await using var backend = await pki.StartBackendAsync();
        var output = new StringBuilder();
        void Print(string line) { Console.WriteLine(line); output.AppendLine(line); }

        Print($"# Load: {Environment.ProcessorCount} cores, {duration.TotalSeconds:0} s per cell after a warm-up, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var contenders = new List<Contender> { new Direct(pki, backend) };
        contenders.Add(await Invoker.StartAsync(pki, backend, passthrough: false));
        contenders.Add(await Invoker.StartAsync(pki, backend, passthrough: true));
        contenders.Add(await Invoker.StartAsync(pki, backend, passthrough: true, forward: true));
        contenders.Add(await Yarp.StartAsync(pki, backend));
        if (only is null)
        {
            if (await Nginx.StartAsync(pki, backend) is { } nginx) { contenders.Add(nginx); } else { Print("(nginx unavailable: skipped)"); }
        }

        var results = new List<CellResult>();
        foreach (var size in only is null ? Sizes : [1024])
        {
            var payload = Payload(size);
            foreach (var concurrency in only is null ? Concurrencies : [1, 16])
            {
                foreach (var contender in contenders)
                {
                    results.Add(await MeasureAsync(contender, payload, size, concurrency, duration, backend));
                }
            }
        }
        foreach (var contender in contenders) { await contender.DisposeAsync(); }

        Print("");
        Print("| body | conc. | contender | req/s | × baseline | p50 ms | p99 ms | +p50 ms | CPU s / 1k req | TLS handshakes | errors |");
        Print("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var cell in results)
        {
            var baseline = results.First(r => r.Size == cell.Size && r.Concurrency == cell.Concurrency);
            Print(string.Create(CultureInfo.InvariantCulture,
                $"| {Size(cell.Size)} | {cell.Concurrency} | {cell.Contender} | {cell.RequestsPerSecond:0} | {cell.RequestsPerSecond / baseline.RequestsPerSecond:0.00} | " +
                $"{cell.P50Ms:0.00} | {cell.P99Ms:0.00} | {cell.P50Ms - baseline.P50Ms:+0.00;-0.00} | {cell.CpuSecondsPer1000:0.000} | {cell.Handshakes} | {cell.Errors} |"));
        }

        if (only is null)
        {
            Print("");
            Print("# Counters and memory");
            await CountersAsync(pki, backend, Print);
            await StreamingMemoryAsync(pki, backend, Print);
            await StartupAsync(pki, backend, Print);
        }

        return output.ToString();
    }

    /// <summary>One request first: the contender must really return the payload, or its numbers mean nothing.</summary>
    private static async Task<string?> VerifyAsync(Contender contender, byte[] payload)
    {
        try
        {
            using var request = contender.Request(payload);
            using var response = await contender.Client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            if (!response.IsSuccessStatusCode)
            {
                return $"status {(int)response.StatusCode}: {Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(300, body.Length)))}";
            }
            return body.AsSpan().IndexOf(payload.AsSpan(0, Math.Min(64, payload.Length))) >= 0 && body.Length >= payload.Length
                ? null : $"the response ({body.Length} bytes) does not hold the payload ({payload.Length} bytes)";
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return e.ToString();
        }
    }

    private static async Task<CellResult> MeasureAsync(Contender contender, byte[] payload, int nominalSize, int concurrency, TimeSpan duration, MutualTlsBackend backend)
    {
        if (await VerifyAsync(contender, payload) is { } problem)
        {
            Console.WriteLine($"{contender.Name}: {problem}");
            return new CellResult(contender.Name, concurrency, nominalSize, 0, 1, duration.TotalSeconds, double.NaN, double.NaN, double.NaN, 0);
        }
        await DriveAsync(contender, payload, concurrency, TimeSpan.FromSeconds(Math.Min(1, duration.TotalSeconds / 2)), null); // warm-up
        GC.Collect();
        var handshakes = backend.Connections;
        var cpu = CpuTime(contender);
        var latencies = new List<long>[concurrency];
        var watch = Stopwatch.StartNew();
        var errors = await DriveAsync(contender, payload, concurrency, duration, latencies);
        var seconds = watch.Elapsed.TotalSeconds;
        var cpuUsed = (CpuTime(contender) - cpu).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? double.NaN : all[(int)Math.Min(all.Length - 1, p * all.Length)] * 1000.0 / Stopwatch.Frequency;
        var result = new CellResult(contender.Name, concurrency, nominalSize, all.Length, errors, seconds, Percentile(0.5), Percentile(0.99),
            all.Length == 0 ? double.NaN : cpuUsed / all.Length * 1000, backend.Connections - handshakes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Size(nominalSize),7} c={concurrency,-3} {contender.Name,-28} {result.RequestsPerSecond,8:0} req/s  p50 {result.P50Ms,7:0.00} ms  p99 {result.P99Ms,7:0.00} ms  errors {errors}"));
        return result;
    }

    private static async Task<long> DriveAsync(Contender contender, byte[] payload, int concurrency, TimeSpan duration, List<long>[]? latencies)
    {
        long errors = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
        {
            var mine = new List<long>(4096);
            if (latencies is not null) { latencies[i] = mine; }
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var request = contender.Request(payload);
                    using var response = await contender.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    await (await response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
                    if (!response.IsSuccessStatusCode) { Interlocked.Increment(ref errors); continue; }
                    mine.Add(Stopwatch.GetTimestamp() - started);
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return errors;
    }

    /// <summary>TLS handshakes and Key Vault requests per 10,000 steady-state invocations (certificate from the Key Vault fake).</summary>
    private static async Task CountersAsync(BenchPki pki, MutualTlsBackend backend, Action<string> print)
    {
        await using var vault = await KeyVaultFake.StartAsync();
        vault.SetPkcs12("bench-client", pki.Client, pki.IntermediatePublic);
        await using var invoker = await Invoker.StartAsync(pki, backend, passthrough: false, settings =>
        {
            settings["Invoker:Profiles:bench:ClientCertificate:Source"] = "KeyVault";
            settings["Invoker:Profiles:bench:ClientCertificate:VaultUri"] = vault.VaultUri.ToString();
            settings["Invoker:Profiles:bench:ClientCertificate:Name"] = "bench-client";
        }, b =>
        {
            b.Services.AddSingleton<TokenCredential>(new StaticTokenCredential());
            vault.Register(b.Services);
        });
        var payload = Payload(1024);
        await DriveAsync(invoker, payload, 16, TimeSpan.FromSeconds(1), null); // warm: certificate loaded, connections open
        var (gets, handshakes) = (vault.SecretGets, backend.Connections);
        var latencies = new List<long>[16];
        await DriveAsync(invoker, payload, 16, TimeSpan.FromSeconds(3), latencies);
        var count = latencies.Sum(l => l.Count);
        print(string.Create(CultureInfo.InvariantCulture,
            $"- steady state, Key Vault certificate, c=16, 1 KiB: {count} invocations → {(vault.SecretGets - gets) * 10_000.0 / count:0.##} Key Vault requests and " +
            $"{(backend.Connections - handshakes) * 10_000.0 / count:0.##} new TLS handshakes per 10,000 invocations (cold start: {gets} secret GET)"));
    }

    /// <summary>RSS growth while a 100 MiB body streams through passthrough to a reader that discards it.</summary>
    private static async Task StreamingMemoryAsync(BenchPki pki, MutualTlsBackend backend, Action<string> print)
    {
        await using var invoker = await Invoker.StartAsync(pki, backend, passthrough: true);
        using (var warm = await invoker.Client.SendAsync(invoker.Stream(1024 * 1024), HttpCompletionOption.ResponseHeadersRead))
        {
            await (await warm.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
        }
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var before = Rss();
        long peak = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (await timer.WaitForNextTickAsync(sampling.Token).ConfigureAwait(false)) { peak = Math.Max(peak, Rss()); }
        });
        const long size = 100L * 1024 * 1024;
        var watch = Stopwatch.StartNew();
        using var response = await invoker.Client.SendAsync(invoker.Stream(size), HttpCompletionOption.ResponseHeadersRead);
        var received = 0L;
        var buffer = new byte[64 * 1024];
        await using (var stream = await response.Content.ReadAsStreamAsync())
        {
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0) { received += read; }
        }
        sampling.Cancel();
        try { await sampler; } catch (OperationCanceledException) { }
        print(string.Create(CultureInfo.InvariantCulture,
            $"- passthrough of 100 MiB: {received / 1048576.0:0} MiB received in {watch.Elapsed.TotalSeconds:0.00} s; process RSS grew by {(peak - before) / 1048576.0:0.0} MiB (from {before / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB)"));
    }

    /// <summary>Start-up of the standalone host (its own process, file certificates) until its first successful invocation.</summary>
    private static async Task StartupAsync(BenchPki pki, MutualTlsBackend backend, Action<string> print)
    {
        var start = StandaloneHostProcess.StartInfo(pki, backend, out var port);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticator.HeaderName, StandaloneHostProcess.ApiKey);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        TimeSpan? firstListening = null;
        try
        {
            while (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    using var response = await client.PostAsync("/api/invoke", new StringContent(
                        $"{{\"method\":\"POST\",\"url\":\"{backend.BaseAddress}data\",\"body\":[1]}}", Encoding.UTF8, "application/json"));
                    firstListening ??= watch.Elapsed;
                    if (response.IsSuccessStatusCode)
                    {
                        print(string.Create(CultureInfo.InvariantCulture,
                            $"- standalone start-up (new process, file certificates) to first successful invocation: {watch.Elapsed.TotalMilliseconds:0} ms (first HTTP answer at {firstListening.Value.TotalMilliseconds:0} ms)"));
                        return;
                    }
                }
                catch (HttpRequestException) { }
                await Task.Delay(10); // the host is starting: poll, bounded by the 30 s deadline
            }
            print("- standalone start-up: no successful invocation within 30 s");
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static TimeSpan CpuTime(Contender contender)
    {
        var own = Process.GetCurrentProcess().TotalProcessorTime;
        if (contender.External is not { HasExited: false } external)
        {
            return own;
        }
        // nginx: the master and its workers.
        var nginx = Process.GetProcessesByName("nginx").Aggregate(TimeSpan.Zero, (sum, p) => { try { return sum + p.TotalProcessorTime; } catch (InvalidOperationException) { return sum; } });
        return own + nginx;
    }

    private static long Rss() => StandaloneHostProcess.Rss();

    /// <summary>A JSON document of about <paramref name="size"/> bytes.</summary>
    public static byte[] Payload(int size)
    {
        var builder = new StringBuilder("{\"items\":[");
        var i = 0;
        while (builder.Length < size - 40)
        {
            builder.Append(i++ == 0 ? "" : ",").Append("{\"id\":").Append(i).Append(",\"name\":\"item-").Append(i).Append("\"}");
        }
        builder.Append("]}");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static string Size(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / 1048576} MiB" : $"{bytes / 1024} KiB";
}
