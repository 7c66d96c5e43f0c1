using InvocationRequest = Microsoft.Azure.Functions.Worker.Grpc.Messages.InvocationRequest;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Azure.Functions.Worker.Grpc.Messages;

namespace ServiceNodeInvoker.TestSupport.FunctionsHost;

/// <summary>
/// Plays the Azure Functions host's side for the real isolated worker: serves FunctionRpc.EventStream
/// (HTTP/2 without TLS on loopback), starts the worker as worker.config.json says, runs the start-up
/// sequence (StartStream → WorkerInitRequest → FunctionsMetadataRequest → FunctionLoadRequest per
/// function), checks function keys by each function's authLevel, and forwards each HTTP request to the
/// worker's own listener (the HttpUri capability) with an <c>x-ms-invocation-id</c> header while sending
/// the matching InvocationRequest, as the host does for the ASP.NET Core integration.
/// </summary>
public sealed class WorkerHost : IAsyncDisposable
{
    public const string FunctionKey = "function-key-for-the-fixture";
    public const string MasterKey = "master-key-for-the-fixture";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Channel<StreamingMessage> _toWorker = Channel.CreateUnbounded<StreamingMessage>();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _waiting = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Function> _functions = [];
    private readonly StringBuilder _output = new();
    private WebApplication? _grpc;
    private Process? _worker;
    private HttpClient? _http;
    private Uri? _workerUri;

    private sealed record Function(string Id, string Name, TemplateMatcher Route, string[] Methods, string AuthLevel);

    private sealed record TimerFunction(string Id, string Name, string Binding, string Schedule, bool RunOnStartup);

    private readonly List<TimerFunction> _timers = [];

    /// <summary>The timer functions' own runs at start-up (runOnStartup), as the host fires them once the app is up.</summary>
    public Task<InvocationResponse[]> StartupTimerRuns { get; private set; } = Task.FromResult(Array.Empty<InvocationResponse>());

    /// <summary>The timer functions the worker announced: name → NCRONTAB schedule.</summary>
    public IReadOnlyDictionary<string, string> TimerSchedules => _timers.ToDictionary(t => t.Name, t => t.Schedule);

    /// <summary>
    /// Fires a timer function as the host does when its schedule is due: an InvocationRequest whose trigger binding carries the
    /// TimerInfo JSON. Returns the worker's InvocationResponse.
    /// </summary>
    public async Task<InvocationResponse> InvokeTimerAsync(string name, bool isPastDue = false, CancellationToken token = default)
    {
        var timer = _timers.Single(t => t.Name == name);
        var invocationId = Guid.NewGuid().ToString();
        var now = DateTime.UtcNow;
        var info = JsonSerializer.Serialize(new
        {
            Schedule = new { AdjustForDST = true },
            ScheduleStatus = new { Last = now.AddDays(-1), Next = now.AddDays(1), LastUpdated = now },
            IsPastDue = isPastDue,
        });
        var invocation = new StreamingMessage
        {
            RequestId = invocationId,
            InvocationRequest = new InvocationRequest
            {
                InvocationId = invocationId,
                FunctionId = timer.Id,
                TraceContext = new RpcTraceContext { TraceParent = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01" },
                InputData = { new ParameterBinding { Name = timer.Binding, Data = new TypedData { Json = info } } },
            },
        };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(TimeSpan.FromMinutes(5)); // host.json's functionTimeout
        var response = await RequestAsync($"invocation:{invocationId}", invocation, deadline.Token);
        _waiting.TryRemove($"invocation:{invocationId}", out _);
        return response.InvocationResponse;
    }

    /// <summary>What the worker printed and logged through the RPC stream.</summary>
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

    public ConcurrentQueue<InvocationResponse> Invocations { get; } = new();

    /// <summary>What the worker announced in its WorkerInitResponse.</summary>
    public IReadOnlyDictionary<string, string> Capabilities { get; private set; } = new Dictionary<string, string>();

    /// <summary>The Functions app the worker runs from: the test build, or a published one (the coldstart benchmark).</summary>
    public string AppDirectory { get; private init; } = null!;

    /// <summary>Milliseconds from the launch to each step of the worker protocol: connected, init, metadata, loaded.</summary>
    public Dictionary<string, double> Steps { get; } = new();

    private void Step(string name) => Steps[name] = Stopwatch.GetElapsedTime(LaunchedAt).TotalMilliseconds;

    /// <summary>When the worker process was launched (<see cref="System.Diagnostics.Stopwatch"/> ticks), after the stand-in host was listening.</summary>
    public long LaunchedAt { get; private set; }

    /// <summary>Starts the worker with these app settings as environment variables (as Azure app settings and local.settings.json give them).</summary>
    /// <param name="appDirectory">A published Functions app; the test build by default.</param>
    public static async Task<WorkerHost> StartAsync(IReadOnlyDictionary<string, string> appSettings, string? appDirectory = null)
    {
        var host = new WorkerHost { AppDirectory = appDirectory ?? FunctionsApp.Directory };
        try
        {
            await host.StartCoreAsync(appSettings);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the worker and returns how it ended, for a worker that must refuse to start.</summary>
    public static async Task<(int? ExitCode, string Output)> StartExpectingFailureAsync(IReadOnlyDictionary<string, string> appSettings)
    {
        var host = new WorkerHost { AppDirectory = FunctionsApp.Directory };
        try
        {
            await host.StartGrpcAsync();
            host.StartWorker(appSettings);
            using var deadline = new CancellationTokenSource(StartTimeout);
            await host._worker!.WaitForExitAsync(deadline.Token);
            return (host._worker.ExitCode, host.Output);
        }
        catch (OperationCanceledException)
        {
            return (null, host.Output);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    private async Task StartCoreAsync(IReadOnlyDictionary<string, string> appSettings)
    {
        await StartGrpcAsync();
        StartWorker(appSettings);
        using var deadline = new CancellationTokenSource(StartTimeout);
        await _connected.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        Step("worker-connected");

        var init = await RequestAsync("init", new StreamingMessage
        {
            RequestId = "init",
            WorkerInitRequest = new WorkerInitRequest
            {
                HostVersion = "4.1040.0",
                WorkerDirectory = AppDirectory,
                FunctionAppDirectory = AppDirectory,
                Capabilities = { ["TypedDataCollection"] = "true", ["RpcHttpBodyOnly"] = "true", ["HandlesWorkerTerminateMessage"] = "true" },
            },
        }, deadline.Token);
        Require(init.WorkerInitResponse.Result, "WorkerInitResponse");
        Step("worker-init");
        Capabilities = init.WorkerInitResponse.Capabilities.ToDictionary(c => c.Key, c => c.Value);
        _workerUri = new Uri(init.WorkerInitResponse.Capabilities["HttpUri"]);
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromMinutes(2),
        };

        var metadata = await RequestAsync("metadata", new StreamingMessage
        {
            RequestId = "metadata",
            FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = AppDirectory },
        }, deadline.Token);
        Require(metadata.FunctionMetadataResponse.Result, "FunctionMetadataResponse");
        Step("worker-metadata");
        foreach (var function in metadata.FunctionMetadataResponse.FunctionMetadataResults)
        {
            var id = string.IsNullOrEmpty(function.FunctionId) ? Guid.NewGuid().ToString() : function.FunctionId;
            var loaded = await RequestAsync($"load:{id}", new StreamingMessage
            {
                RequestId = $"load:{id}",
                FunctionLoadRequest = new FunctionLoadRequest { FunctionId = id, Metadata = function },
            }, deadline.Token);
            Require(loaded.FunctionLoadResponse.Result, $"FunctionLoadResponse for {function.Name}");
            foreach (var raw in function.RawBindings)
            {
                using var binding = JsonDocument.Parse(raw);
                var root = binding.RootElement;
                if (root.GetProperty("type").GetString()!.Equals("httpTrigger", StringComparison.OrdinalIgnoreCase))
                {
                    var route = root.TryGetProperty("route", out var r) ? r.GetString()! : function.Name;
                    var methods = root.TryGetProperty("methods", out var m) ? m.EnumerateArray().Select(x => x.GetString()!.ToUpperInvariant()).ToArray() : [];
                    var level = root.TryGetProperty("authLevel", out var a) ? a.GetString()!.ToLowerInvariant() : "function";
                    _functions.Add(new Function(id, function.Name, new TemplateMatcher(TemplateParser.Parse($"api/{route}"), new RouteValueDictionary()), methods, level));
                }
                else if (root.GetProperty("type").GetString()!.Equals("timerTrigger", StringComparison.OrdinalIgnoreCase))
                {
                    _timers.Add(new TimerFunction(id, function.Name, root.GetProperty("name").GetString()!, root.GetProperty("schedule").GetString()!,
                        root.TryGetProperty("runOnStartup", out var startup) && startup.GetBoolean()));
                }
            }
        }
        Step("worker-loaded");
        // The worker announces its HTTP listener before it accepts connections; like the host's proxy,
        // wait (bounded) until it does.
        while (true)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(_workerUri.Host, _workerUri.Port, deadline.Token);
                Step("worker-http");
                // As the host's timer listener does once it starts: a timer with runOnStartup fires now.
                StartupTimerRuns = Task.WhenAll(_timers.Where(t => t.RunOnStartup).Select(t => InvokeTimerAsync(t.Name)));
                return;
            }
            catch (System.Net.Sockets.SocketException) when (!deadline.IsCancellationRequested && _worker is { HasExited: false })
            {
                await Task.Delay(20, deadline.Token); // poll the listener, bounded by the start deadline
            }
        }
    }

    private static void Require(StatusResult result, string what)
    {
        if (result.Status != StatusResult.Types.Status.Success)
        {
            throw new InvalidOperationException($"{what} failed: {result.Result} {result.Exception?.Message}");
        }
    }

    private async Task StartGrpcAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = int.MaxValue);
        builder.Services.AddSingleton(this);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        _grpc = builder.Build();
        _grpc.MapGrpcService<RpcService>();
        await _grpc.StartAsync();
    }

    private void StartWorker(IReadOnlyDictionary<string, string> appSettings)
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppDirectory, "worker.config.json")));
        var description = config.RootElement.GetProperty("description");
        // A self-contained app names its own executable under {WorkerRoot}, as the Functions host expands it.
        var executable = description.GetProperty("defaultExecutablePath").GetString()!.Replace("{WorkerRoot}", AppDirectory.TrimEnd('/') + "/", StringComparison.Ordinal);
        var workerPath = Path.Combine(AppDirectory, description.GetProperty("defaultWorkerPath").GetString()!);
        var grpcUri = _grpc!.Urls.First().TrimEnd('/') + "/";
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppDirectory,
        };
        foreach (var argument in new[]
                 {
                     workerPath, "--functions-uri", grpcUri, "--functions-worker-id", Guid.NewGuid().ToString(),
                     "--functions-request-id", Guid.NewGuid().ToString(), "--functions-grpc-max-message-length", int.MaxValue.ToString(),
                 })
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("Invoker", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = AppDirectory;
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = AppDirectory;
        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        foreach (var (key, value) in appSettings)
        {
            start.Environment[key] = value;
        }
        LaunchedAt = Stopwatch.GetTimestamp();
        _worker = Process.Start(start)!;
        _worker.OutputDataReceived += (_, e) => Append(e.Data);
        _worker.ErrorDataReceived += (_, e) => Append(e.Data);
        _worker.BeginOutputReadLine();
        _worker.BeginErrorReadLine();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task<StreamingMessage> RequestAsync(string key, StreamingMessage message, CancellationToken token)
    {
        var reply = _waiting.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
        await _toWorker.Writer.WriteAsync(message, token);
        return await reply.Task.WaitAsync(token);
    }

    internal void Received(StreamingMessage message)
    {
        string? key = message.ContentCase switch
        {
            StreamingMessage.ContentOneofCase.StartStream => null,
            StreamingMessage.ContentOneofCase.WorkerInitResponse => "init",
            StreamingMessage.ContentOneofCase.FunctionMetadataResponse => "metadata",
            StreamingMessage.ContentOneofCase.FunctionLoadResponse => $"load:{message.FunctionLoadResponse.FunctionId}",
            StreamingMessage.ContentOneofCase.InvocationResponse => $"invocation:{message.InvocationResponse.InvocationId}",
            _ => null,
        };
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.StartStream:
                _connected.TrySetResult();
                return;
            case StreamingMessage.ContentOneofCase.RpcLog:
                Append($"[rpc {message.RpcLog.Level}] {message.RpcLog.Category}: {message.RpcLog.Message} {message.RpcLog.Exception?.Message}");
                return;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                Invocations.Enqueue(message.InvocationResponse);
                break;
        }
        if (key is not null)
        {
            _waiting.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(message);
        }
    }

    internal ChannelReader<StreamingMessage> Outgoing => _toWorker.Reader;

    /// <summary>
    /// A request as a caller sends it to https://&lt;app&gt;.azurewebsites.net: keys are checked per the
    /// function's authLevel (a 401 with no body, as the host answers), then it goes to the worker.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken token = default)
    {
        var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.AbsolutePath : request.RequestUri.OriginalString.Split('?')[0];
        var query = request.RequestUri.IsAbsoluteUri ? request.RequestUri.Query : (request.RequestUri.OriginalString.Contains('?') ? "?" + request.RequestUri.OriginalString.Split('?', 2)[1] : "");
        Function? function = null;
        var values = new RouteValueDictionary();
        foreach (var candidate in _functions)
        {
            values = new RouteValueDictionary();
            if (candidate.Route.TryMatch(path, values) && (candidate.Methods.Length == 0 || candidate.Methods.Contains(request.Method.Method)))
            {
                function = candidate;
                break;
            }
        }
        if (function is null)
        {
            return new HttpResponseMessage(HttpStatusCode.NotFound);
        }
        var key = request.Headers.TryGetValues("x-functions-key", out var keys) ? keys.FirstOrDefault()
            : System.Web.HttpUtility.ParseQueryString(query).Get("code");
        var allowed = function.AuthLevel switch
        {
            "anonymous" => true,
            "admin" or "system" => key == MasterKey,
            _ => key == FunctionKey || key == MasterKey,
        };
        if (!allowed)
        {
            return new HttpResponseMessage(HttpStatusCode.Unauthorized);
        }

        var invocationId = Guid.NewGuid().ToString();
        var forward = new HttpRequestMessage(request.Method, new Uri(_workerUri!, path.TrimStart('/') + query)) { Content = request.Content };
        foreach (var header in request.Headers)
        {
            forward.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        forward.Headers.TryAddWithoutValidation("x-ms-invocation-id", invocationId);
        var traceParent = request.Headers.TryGetValues("traceparent", out var tp) ? tp.First()
            : $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
        var invocation = new StreamingMessage
        {
            RequestId = invocationId,
            InvocationRequest = new InvocationRequest
            {
                InvocationId = invocationId,
                FunctionId = function.Id,
                TraceContext = new RpcTraceContext { TraceParent = traceParent },
                InputData =
                {
                    new ParameterBinding
                    {
                        Name = "request",
                        Data = new TypedData { Http = new RpcHttp { Method = request.Method.Method, Url = forward.RequestUri!.ToString() } },
                    },
                },
            },
        };
        foreach (var (name, value) in values)
        {
            invocation.InvocationRequest.TriggerMetadata[name] = new TypedData { String = value?.ToString() ?? "" };
        }
        var finished = _waiting.GetOrAdd($"invocation:{invocationId}", _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
        await _toWorker.Writer.WriteAsync(invocation, token);
        var response = await _http!.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, token);
        _ = finished.Task.ContinueWith(_ => _waiting.TryRemove($"invocation:{invocationId}", out var _), TaskScheduler.Default);
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        if (_worker is { HasExited: false })
        {
            await _toWorker.Writer.WriteAsync(new StreamingMessage
            {
                WorkerTerminate = new WorkerTerminate { GracePeriod = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(5)) },
            });
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _worker.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _worker.Kill(entireProcessTree: true);
                await _worker.WaitForExitAsync();
            }
        }
        _worker?.Dispose();
        _http?.Dispose();
        _toWorker.Writer.TryComplete();
        if (_grpc is not null)
        {
            await _grpc.StopAsync();
            await _grpc.DisposeAsync();
        }
    }
}

/// <summary>The host side of FunctionRpc.EventStream: one worker's stream, both directions.</summary>
internal sealed class RpcService(WorkerHost host) : FunctionRpc.FunctionRpcBase
{
    public override async Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream,
        ServerCallContext context)
    {
        var sending = Task.Run(async () =>
        {
            await foreach (var message in host.Outgoing.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(message);
            }
        });
        try
        {
            await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
            {
                host.Received(message);
            }
        }
        catch (IOException)
        {
            // the worker went away
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            await sending;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
