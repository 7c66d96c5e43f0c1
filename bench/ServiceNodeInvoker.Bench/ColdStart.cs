using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using ServiceNodeInvoker.TestSupport;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// Cold start, as the bot's first call after an idle period meets it: from launching the host process to the first
/// HTTP answer and to the first 200 from <c>POST /api/invoke</c> over mutual TLS (file certificates, a Kestrel backend
/// that requires a client certificate). Each variant is a published build of the standalone host, optionally with one
/// runtime setting; runs are interleaved over the variants, medians reported, with the milestones of each start-up read from
/// the runtime's own instrumentation (<see cref="StartupTrace"/>: an EventPipe session started by the environment, read once
/// the host has stopped), in ms since launch.
/// </summary>
internal static class ColdStart
{
    /// <param name="Folder">A folder holding ServiceNodeInvoker.Standalone.dll.</param>
    /// <param name="Environment">Extra environment variables (runtime settings).</param>
    public sealed record Variant(string Name, string Folder, IReadOnlyDictionary<string, string> Environment);

    private sealed record Run(double FirstAnswerMs, double First200Ms, IReadOnlyDictionary<string, double> Phases);

    public static readonly string[] Phases = StartupTrace.Milestones;

    /// <param name="keyVault">The client certificate from Key Vault (the fake, over its managed-identity endpoint and TLS, as on Azure) instead of a file.</param>
    public static async Task RunAsync(IReadOnlyList<Variant> variants, int runs, Action<string> print, bool keyVault = false)
    {
        await using var backend = await TestPki.Instance.StartBackendAsync();
        using var files = new TempFiles();
        await using var vault = keyVault ? await KeyVaultFake.StartAsync() : null;
        if (vault is not null)
        {
            variants = WithKeyVault(variants, vault, files);
        }
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:Callers:ApiKeys:bench"] = Endpoints.InvokerApi.HashApiKey(InvokerHost.ApiKey);
        settings["Invoker:AllowLoopback"] = "true";
        var body = $"{{\"method\":\"GET\",\"url\":\"{backend.BaseAddress}echo\"}}";
        // One run of each, not recorded: the disk cache holds every file afterwards, as on a warm platform worker.
        foreach (var variant in variants)
        {
            await MeasureAsync(variant, settings, body, backend.Port);
        }
        var results = variants.ToDictionary(v => v.Name, _ => new List<Run>());
        for (var i = 0; i < runs; i++)
        {
            foreach (var variant in variants)
            {
                var run = await MeasureAsync(variant, settings, body, backend.Port);
                results[variant.Name].Add(run);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  run {i + 1,2} {variant.Name,-40} first answer {run.FirstAnswerMs,7:0} ms, first 200 {run.First200Ms,7:0} ms"));
            }
        }
        Print(print, $"# Cold start: launch → first answer and first 200 (mTLS, {(keyVault ? "the client certificate from Key Vault" : "file certificates")}), {runs} interleaved runs",
            variants, results, Phases);
        if (vault is not null)
        {
            print($"Key Vault: {vault.CertificateGets} certificate GETs, {vault.SecretGets} secret GETs in all");
        }
    }

    /// <summary>
    /// The same variants with the profile's client certificate in Key Vault: the fake's certificate API and secret over its TLS
    /// (its issuer added to the platform's trust: SSL_CERT_FILE, the system bundle plus the test root). The fake does not
    /// challenge for a token here (KeyVaultFake.RequireToken), so no credential is asked for one: the managed-identity token
    /// request is not part of the figure.
    /// </summary>
    private static List<Variant> WithKeyVault(IReadOnlyList<Variant> variants, KeyVaultFake vault, TempFiles files)
    {
        var pki = TestPki.Instance;
        vault.SetPkcs12("bench-client", pki.ClientRsa, pki.IntermediatePublic);
        vault.RequireToken = false; // see KeyVaultFake.RequireToken
        const string system = "/etc/ssl/certs/ca-certificates.crt";
        var trust = files.Text("trust.pem", (File.Exists(system) ? File.ReadAllText(system) : "") + pki.RootPublic.ExportCertificatePem());
        var environment = new Dictionary<string, string>
        {
            ["Invoker__Profiles__payments__ClientCertificate__Source"] = "KeyVault",
            ["Invoker__Profiles__payments__ClientCertificate__VaultUri"] = vault.VaultUri.ToString(),
            ["Invoker__Profiles__payments__ClientCertificate__Name"] = "bench-client",
            ["Invoker__Profiles__payments__ClientCertificate__Path"] = "",
            ["Invoker__Profiles__payments__ClientCertificate__Password"] = "",
            ["SSL_CERT_FILE"] = trust,
        };
        return variants.Select(v => v with
        {
            Name = $"{v.Name}, Key Vault",
            Environment = new Dictionary<string, string>(v.Environment.Concat(environment)),
        }).ToList();
    }

    /// <summary>The table: per variant, medians of the first answer, the first 200 (and its ratio to the first variant) and each column's phase.</summary>
    private static void Print(Action<string> print, string title, IReadOnlyList<Variant> variants, Dictionary<string, List<Run>> results, string[] columns)
    {
        var baseline = Median(results[variants[0].Name].Select(r => r.First200Ms));
        print(string.Create(CultureInfo.InvariantCulture, $"{title}, medians, {System.Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"));
        print("");
        print("| variant | first answer ms | first 200 ms | × first | " + string.Join(" | ", columns) + " |");
        print("|---|---|---|---|" + string.Concat(Enumerable.Repeat("---|", columns.Length)));
        foreach (var variant in variants)
        {
            var list = results[variant.Name];
            var first200 = Median(list.Select(r => r.First200Ms));
            var cells = columns.Select(p => list.Where(r => r.Phases.ContainsKey(p)).Select(r => r.Phases[p]).ToList())
                .Select(values => values.Count == 0 ? "–" : Median(values).ToString("0", CultureInfo.InvariantCulture));
            print(string.Create(CultureInfo.InvariantCulture,
                $"| {variant.Name} | {Median(list.Select(r => r.FirstAnswerMs)):0} | {first200:0} | {first200 / baseline:0.00} | {string.Join(" | ", cells)} |"));
        }
    }

    private static async Task<Run> MeasureAsync(Variant variant, IReadOnlyDictionary<string, string?> settings, string body, int backendPort)
    {
        var trace = new StartupTrace(Path.Combine(Path.GetTempPath(), $"sni-coldstart-{Guid.NewGuid():N}.nettrace"));
        var port = ExternalLoad.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = variant.Folder,
        };
        start.ArgumentList.Add(Path.Combine(variant.Folder, "ServiceNodeInvoker.Standalone.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in trace.Environment.Concat(variant.Environment))
        {
            start.Environment[key] = value;
        }
        var launchedUtc = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        double? firstAnswer = null;
        string? lastAnswer = null;
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            var deadline = TimeSpan.FromSeconds(60);
            while (clock.Elapsed < deadline)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{variant.Name}: the host exited with code {process.ExitCode}");
                }
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    request.Headers.Add("x-functions-key", InvokerHost.ApiKey);
                    using var response = await client.SendAsync(request);
                    firstAnswer ??= clock.Elapsed.TotalMilliseconds;
                    if ((int)response.StatusCode == 200)
                    {
                        var first200 = clock.Elapsed.TotalMilliseconds;
                        await StandaloneProcess.StopAsync(process, TimeSpan.FromSeconds(10)); // the trace is complete once the host has ended
                        return new Run(firstAnswer.Value, first200, trace.Read(launchedUtc, backendPort));
                    }
                    lastAnswer = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
                }
                catch (HttpRequestException e) when (e.InnerException is SocketException)
                {
                    await Task.Delay(2); // not listening yet: the poll interval, bounded by the deadline
                }
            }
            throw new TimeoutException($"{variant.Name}: no 200 within {deadline.TotalSeconds} s; the last answer: {lastAnswer ?? "none"}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            File.Delete(trace.Path);
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Publishes the standalone host as a deployment would (<c>dotnet publish -c Release</c>: ReadyToRun), or without ReadyToRun.</summary>
    /// <param name="extraArguments">More publish arguments (a variant: self-contained, composite ReadyToRun).</param>
    public static async Task<string> PublishAsync(string repository, string output, bool readyToRun, string extraArguments = "")
    {
        // The project publishes ReadyToRun by default (its csproj); the plain build turns it off.
        var arguments = $"publish \"{Path.Combine(repository, "src", "ServiceNodeInvoker.Standalone")}\" -c Release -o \"{output}\" -v q -nologo" +
                        (readyToRun ? "" : " -p:PublishReadyToRun=false") + " " + extraArguments;
        using var process = Process.Start(new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"dotnet {arguments} failed: {await stdout}{await stderr}");
    }

    /// <summary>
    /// The Functions app as azd publishes it, under the stand-in host that speaks the worker protocol (the tests'
    /// FunctionsHost fixture): from launching the worker (the stand-in host already listening) to the first 200
    /// from <c>POST /api/invoke</c>, with the protocol steps (connected, init, metadata, loaded, HTTP listener) and
    /// the worker's own timeline.
    /// </summary>
    public static async Task RunFunctionsAsync(IReadOnlyList<Variant> variants, int runs, Action<string> print)
    {
        await using var backend = await TestPki.Instance.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        var appSettings = settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        var body = $"{{\"method\":\"GET\",\"url\":\"{backend.BaseAddress}echo\"}}";
        string[] steps = ["worker-connected", "worker-init", "worker-metadata", "worker-loaded", "worker-http"];
        foreach (var variant in variants)
        {
            await MeasureFunctionsAsync(variant, appSettings, body, backend.Port); // not recorded: the disk cache holds every file afterwards
        }
        var results = variants.ToDictionary(v => v.Name, _ => new List<Run>());
        for (var i = 0; i < runs; i++)
        {
            foreach (var variant in variants)
            {
                var run = await MeasureFunctionsAsync(variant, appSettings, body, backend.Port);
                results[variant.Name].Add(run);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run {i + 1,2} {variant.Name,-40} first 200 {run.First200Ms,7:0} ms"));
            }
        }
        Print(print, $"# Cold start, Functions app under the worker-protocol fixture: worker launch → first 200 (mTLS, file certificates), {runs} interleaved runs",
            variants, results, [.. steps, .. Phases]);
    }

    private static async Task<Run> MeasureFunctionsAsync(Variant variant, IReadOnlyDictionary<string, string> appSettings, string body, int backendPort)
    {
        var trace = new StartupTrace(Path.Combine(Path.GetTempPath(), $"sni-coldstart-{Guid.NewGuid():N}.nettrace"));
        var environment = new Dictionary<string, string>(appSettings);
        foreach (var (key, value) in trace.Environment.Concat(variant.Environment))
        {
            environment[key] = value;
        }
        try
        {
            var host = await TestSupport.FunctionsHost.WorkerHost.StartAsync(environment, variant.Folder);
            var launchedUtc = DateTime.UtcNow - Stopwatch.GetElapsedTime(host.LaunchedAt);
            double? elapsed = null;
            try
            {
                while (elapsed is null)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    request.Headers.Add("x-functions-key", TestSupport.FunctionsHost.WorkerHost.FunctionKey);
                    using var response = await host.SendAsync(request);
                    if ((int)response.StatusCode == 200)
                    {
                        elapsed = Stopwatch.GetElapsedTime(host.LaunchedAt).TotalMilliseconds;
                    }
                    else if (Stopwatch.GetElapsedTime(host.LaunchedAt) > TimeSpan.FromSeconds(60))
                    {
                        throw new TimeoutException($"{variant.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{host.Output}");
                    }
                }
            }
            finally
            {
                await host.DisposeAsync(); // the worker ends on the host's terminate message: its trace is complete
            }
            var phases = new Dictionary<string, double>(host.Steps);
            foreach (var (milestone, at) in trace.Read(launchedUtc, backendPort))
            {
                phases[milestone] = at;
            }
            return new Run(elapsed.Value, elapsed.Value, phases);
        }
        finally
        {
            File.Delete(trace.Path);
        }
    }

    /// <summary>Publishes the Functions app as azd does (<c>dotnet publish -c Release</c>: ReadyToRun for linux-x64 since the
    /// project asks for it), or explicitly with or without ReadyToRun (a checkout from before that change).</summary>
    /// <param name="extraArguments">More publish arguments (a variant: self-contained, composite ReadyToRun).</param>
    public static async Task<string> PublishFunctionsAsync(string repository, string output, bool readyToRun, string? extraSource, string extraArguments = "")
    {
        var arguments = $"publish \"{Path.Combine(repository, "src", "ServiceNodeInvoker.Functions")}\" -c Release -o \"{output}\" -v q -nologo" +
                        (readyToRun ? " -r linux-x64 -p:PublishReadyToRun=true" : " -p:PublishReadyToRun=false") + " " + extraArguments +
                        (extraSource is null ? "" : $" -p:RestoreAdditionalProjectSources=\"{extraSource}\"");
        using var process = Process.Start(new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"dotnet {arguments} failed: {await stdout}{await stderr}");
    }
}
