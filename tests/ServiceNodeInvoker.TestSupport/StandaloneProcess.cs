using System.Diagnostics;
using System.Text;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// The real standalone host as its own process, configured only through environment variables
/// (as an operator or Azure app settings would), with what it printed and how it ended.
/// </summary>
public static partial class StandaloneProcess
{
    public sealed record Outcome(int? ExitCode, bool Listening, string Output, string Error);

    private static string Assembly => Path.Combine(AppContext.BaseDirectory, "ServiceNodeInvoker.Standalone.dll");

    /// <summary>Starts the host; it either exits (returned with its code) or listens (then it is stopped: ExitCode null).</summary>
    public static Task<Outcome> RunAsync(IReadOnlyDictionary<string, string> environment, TimeSpan? timeout = null, params string[] args) =>
        RunCoreAsync(environment, timeout, "Now listening on", null, args);

    /// <summary>Like <see cref="RunAsync"/>, started in <paramref name="workingDirectory"/> (the folder a user types the command in).</summary>
    public static Task<Outcome> RunInAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunCoreAsync(environment, null, "Now listening on", null, args, workingDirectory);

    /// <summary>SIGINT: what Ctrl+C in a terminal sends.</summary>
    public const int SigInt = 2;

    /// <summary>SIGTERM: what a service manager or a container runtime sends to stop a process.</summary>
    public const int SigTerm = 15;

    /// <summary>
    /// Starts the host, waits until it prints <paramref name="ready"/>, sends it <paramref name="signal"/> and waits for it to end
    /// on its own (ExitCode: its code; null when it did not end within the deadline and was killed).
    /// </summary>
    public static Task<Outcome> RunAndSignalAsync(IReadOnlyDictionary<string, string> environment, string ready, int signal, params string[] args) =>
        RunCoreAsync(environment, null, ready, signal, args);

    /// <summary>
    /// Starts the host, waits until it listens, runs <paramref name="whileListening"/> with its address, then stops it with
    /// SIGTERM and waits for it to end on its own (as <see cref="RunAndSignalAsync"/>).
    /// </summary>
    public static Task<Outcome> RunCallingAsync(IReadOnlyDictionary<string, string> environment, Func<Uri, Task> whileListening) =>
        RunCoreAsync(environment, null, "Now listening on", SigTerm, [], whileListening: whileListening);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    /// <summary>Stops a host as a service manager does (SIGTERM), so it ends on its own (its start-up trace complete); killed after <paramref name="grace"/>.</summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }
        if (Kill(process.Id, SigTerm) == 0)
        {
            using var deadline = new CancellationTokenSource(grace);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                return;
            }
            catch (OperationCanceledException)
            {
                // Did not end in time: killed below.
            }
        }
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    private static async Task<Outcome> RunCoreAsync(IReadOnlyDictionary<string, string> environment, TimeSpan? timeout, string ready, int? signal, string[] args,
        string? workingDirectory = null, Func<Uri, Task>? whileListening = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Assembly);
        foreach (var arg in args.Length == 0 ? ["--urls", "http://127.0.0.1:0"] : args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("Invoker", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var error = new StringBuilder();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Uri? address = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data.Contains(ready, StringComparison.Ordinal))
            {
                var at = e.Data.IndexOf("http", StringComparison.Ordinal);
                address ??= at < 0 ? null : new Uri(e.Data[at..].Trim());
                listening.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (error)
                {
                    error.AppendLine(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(exited, listening.Task, Task.Delay(timeout ?? TimeSpan.FromSeconds(60)));
        int? code = null;
        if (first == exited)
        {
            await process.WaitForExitAsync(); // drains the output streams
            code = process.ExitCode;
        }
        else if (first == listening.Task && signal is { } stop)
        {
            if (whileListening is not null)
            {
                try
                {
                    await whileListening(address ?? throw new InvalidOperationException("the host said it listens without an address"));
                }
                catch
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                    throw;
                }
            }
            if (Kill(process.Id, stop) != 0)
            {
                throw new InvalidOperationException($"kill({process.Id}, {stop}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
            }
            using var deadline = new CancellationTokenSource(Poll.DefaultDeadline);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                await process.WaitForExitAsync(); // drains the output streams
                code = process.ExitCode;
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        else
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        lock (output)
        {
            lock (error)
            {
                return new Outcome(code, first == listening.Task, output.ToString(), error.ToString());
            }
        }
    }

    /// <summary>
    /// Starts the host in <paramref name="workingDirectory"/> (its content root: the appsettings.json there is its settings
    /// file) on a loopback port, and returns it running, for tests that change its files while it serves. Dispose stops it
    /// (SIGTERM, then a kill after the deadline).
    /// </summary>
    public static async Task<Running> StartAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Assembly);
        foreach (var arg in args.Length == 0 ? ["--urls", "http://127.0.0.1:0"] : args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("Invoker", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var running = new Running(Process.Start(start)!);
        await running.WaitForListeningAsync();
        return running;
    }

    /// <summary>A host process that runs until disposed, with everything it printed so far.</summary>
    public sealed partial class Running : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Running(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Received(e.Data);
            _process.ErrorDataReceived += (_, e) => Received(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>Where it listens (from its "Now listening on" line).</summary>
        public Uri BaseAddress => _listening.Task.Result;

        /// <summary>Everything it wrote to stdout and stderr so far.</summary>
        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        /// <summary>A client for it, sending <paramref name="key"/> in x-functions-key when given.</summary>
        public HttpClient Client(string? key)
        {
            var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            if (key is not null)
            {
                client.DefaultRequestHeaders.Add("x-functions-key", key);
            }
            return client;
        }

        /// <summary>Waits until its output holds <paramref name="text"/> (it writes its log in batches, every 100 ms).</summary>
        public Task WaitForOutputAsync(string text, TimeSpan? deadline = null) =>
            Poll.UntilAsync(() => Output.Contains(text, StringComparison.Ordinal), $"the host to print '{text}'; it printed:\n{Output}", deadline);

        private void Received(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_output)
            {
                _output.AppendLine(line);
            }
            if (Listening().Match(line) is { Success: true } match)
            {
                _listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }

        internal async Task WaitForListeningAsync()
        {
            var exited = _process.WaitForExitAsync();
            var first = await Task.WhenAny(_listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
            if (first != _listening.Task)
            {
                await DisposeAsync();
                throw new InvalidOperationException($"The host did not start listening (exit code {(_process.HasExited ? _process.ExitCode : null)}):\n{Output}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                Kill(_process.Id, SigTerm);
                using var deadline = new CancellationTokenSource(Poll.DefaultDeadline);
                try
                {
                    await _process.WaitForExitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
            _process.Dispose();
        }

        [System.Text.RegularExpressions.GeneratedRegex(@"Now listening on: (http://\S+)")]
        private static partial System.Text.RegularExpressions.Regex Listening();
    }
}
