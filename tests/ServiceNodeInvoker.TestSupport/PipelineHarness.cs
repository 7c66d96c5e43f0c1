using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// The invoker's request path in-process, without a socket (like YARP's forwarder tests): the services exactly as the
/// hosts register them, each call a <see cref="DefaultHttpContext"/> handed to the route's <see cref="InvokerApi"/>
/// method, and the backend a handler in place of the mutual-TLS transport (the one seam, <see cref="IBackendHandlers"/>).
/// Everything above the socket is real: caller keys, the request readers, profile resolution and grants, the certificate
/// store (the standard profile's PFX, read from a file), the token step, the header policy, the modes, the buffer
/// budget and the failure mapping. The reply behaves as a server's: it starts with its first byte (then its status and
/// headers are fixed, and a failure can only cut the connection), aborting the connection signals RequestAborted, and a
/// body shorter or longer than its Content-Length reaches the client broken. What needs sockets — TLS, the wire witness,
/// the hosts — stays with the real-socket tests.
/// </summary>
public sealed class PipelineHarness : IAsyncDisposable
{
    /// <summary>The port of the standard profile's host (nothing listens: the backend is a handler).</summary>
    public const int Port = 44300;

    /// <summary>The standard profile's backend address.</summary>
    public static readonly Uri Backend = new($"https://localhost:{Port}/");

    private readonly ServiceProvider _services;
    private readonly TempFiles _files;

    private PipelineHarness(ServiceProvider services, TempFiles files, LogSink logs, Recorder recorder)
    {
        _services = services;
        _files = files;
        Logs = logs;
        _recorder = recorder;
        Api = services.GetRequiredService<InvokerApi>();
        Client = new HttpClient(new Routes(this)) { BaseAddress = new Uri("http://127.0.0.1:7071/") };
    }

    /// <summary>A client whose requests go to the invoke and forward routes in-process (with the test API key); any other path is 404.</summary>
    public HttpClient Client { get; }

    private readonly Recorder _recorder;

    public InvokerApi Api { get; }

    public LogSink Logs { get; }

    /// <summary>The invoker's services, as the hosts register them.</summary>
    public IServiceProvider Services => _services;

    private readonly System.Collections.Concurrent.ConcurrentQueue<Exception> _unhandled = new();

    /// <summary>Exceptions the invoker let escape (a real server answers them 500, or cuts a reply that had started).</summary>
    public IReadOnlyCollection<Exception> Unhandled => _unhandled;

    /// <summary>The requests the backend handler was given, as it saw them (headers and body read when sent).</summary>
    public IReadOnlyList<SentRequest> Sent => _recorder.Sent;

    /// <summary>
    /// Starts the invoker with the standard settings (profile 'payments' owning <see cref="Backend"/>, the test API key)
    /// and <paramref name="backend"/> answering everything the invoker sends.
    /// </summary>
    public static PipelineHarness Start(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> backend,
        Action<Dictionary<string, string?>, TempFiles>? settings = null)
    {
        var files = new TempFiles();
        var logs = new LogSink();
        var all = ProfileSettings.Standard(files, Port).Settings;
        all["Invoker:Callers:ApiKeys:test-bot"] = InvokerApi.HashApiKey(InvokerHost.ApiKey);
        settings?.Invoke(all, files);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddServiceNodeInvoker(configuration);
        var recorder = new Recorder(backend);
        services.Replace(ServiceDescriptor.Singleton<IBackendHandlers>(new Handlers(recorder)));
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        return new PipelineHarness(provider, files, logs, recorder);
    }

    /// <summary>A backend answering every request with <paramref name="answer"/>'s response.</summary>
    public static PipelineHarness Start(Func<HttpRequestMessage, HttpResponseMessage> answer, Action<Dictionary<string, string?>, TempFiles>? settings = null) =>
        Start((request, _) => Task.FromResult(answer(request)), settings);

    /// <summary><c>POST /api/invoke</c> with the JSON request and the test API key; the reply as a client would read it.</summary>
    public Task<HttpResponseMessage> InvokeAsync(object request, CancellationToken aborted = default) =>
        SendAsync(HttpMethod.Post, "/api/invoke", JsonContent.Create(request), (api, context) => api.InvokeAsync(context), aborted: aborted);

    /// <summary><c>POST /api/invoke</c> with this exact body (JSON or not) and the test API key.</summary>
    public Task<HttpResponseMessage> InvokeRawAsync(string json) =>
        SendAsync(HttpMethod.Post, "/api/invoke", new StringContent(json, Encoding.UTF8, "application/json"), (api, context) => api.InvokeAsync(context));

    /// <summary><c>/api/forward/{profile}/{path}</c> with the caller's own method, headers and body.</summary>
    public Task<HttpResponseMessage> ForwardAsync(HttpMethod method, string profile, string pathAndQuery, HttpContent? body = null,
        IEnumerable<(string Name, string Value)>? headers = null) =>
        SendAsync(method, $"/api/forward/{profile}/{pathAndQuery.TrimStart('/')}", body, (api, context) => api.ForwardAsync(context, profile), headers);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string target, HttpContent? body, Func<InvokerApi, HttpContext, Task<IResult>> route,
        IEnumerable<(string Name, string Value)>? headers = null, CancellationToken aborted = default)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        var request = context.Request;
        request.Method = method.Method;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1", 7071);
        var query = target.IndexOf('?');
        request.Path = query < 0 ? target : target[..query];
        request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = target;
        request.Headers[ServiceNodeInvoker.Callers.ApiKeyAuthenticator.HeaderName] = InvokerHost.ApiKey;
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.Append(name, value);
        }
        if (body is not null)
        {
            var bytes = await body.ReadAsByteArrayAsync(aborted);
            request.Body = new MemoryStream(bytes, writable: false);
            request.ContentLength = bytes.Length;
            if (body.Headers.ContentType is { } type)
            {
                request.ContentType = type.ToString();
            }
        }
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new BodyDetection(body is not null));
        var response = new ServerResponse();
        context.Features.Set<IHttpResponseFeature>(response);
        context.Features.Set<IHttpResponseBodyFeature>(response);
        using var lifetime = new Lifetime(aborted);
        context.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        try
        {
            var result = await route(Api, context);
            await result.ExecuteAsync(context);
        }
        catch (Exception unhandled)
        {
            // What a server does with an exception the application lets escape: a bare 500 while nothing has left, else
            // the connection is cut. Either way it is never the client's own exception.
            _unhandled.Enqueue(unhandled);
            if (response.HasStarted)
            {
                lifetime.Abort();
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                context.Response.Headers.Clear();
                response.Written.SetLength(0);
            }
        }
        await response.CompleteAsync();
        if (lifetime.Cut)
        {
            // What a client sees when the server aborts the connection: no reply at all (whatever had left before).
            throw new HttpRequestException("The invoker cut the connection without a reply.");
        }
        var written = response.Written.ToArray();
        if (context.Response.ContentLength is { } declared && declared != written.Length && method != HttpMethod.Head
            && context.Response.StatusCode is not (204 or 304))
        {
            // A server ends such a reply by closing the connection: the client sees it broken off.
            throw new HttpRequestException($"The invoker declared {declared} bytes and wrote {written.Length}.");
        }
        var reply = new HttpResponseMessage((HttpStatusCode)context.Response.StatusCode)
        {
            Content = new ByteArrayContent(written),
        };
        foreach (var (name, values) in context.Response.Headers)
        {
            if (!reply.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                reply.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
        return reply;
    }

    /// <summary>
    /// Asserts that nothing holds <paramref name="profile"/>'s transport once a call has been answered: every exchange
    /// (the backend's answer, the message, the lease) was released on whatever path the call took. The current transport
    /// is discarded (as a broken answer would have it) and must be disposed once its last lease ends; a token request
    /// still finishing in the background may hold one for a moment, a leaked exchange holds it for ever.
    /// </summary>
    public async Task AssertNoLeaseHeldAsync(string profile = "payments")
    {
        var pool = _services.GetRequiredService<TransportPool>();
        var transport = pool.CurrentFor(profile);
        Assert.NotNull(transport);
        pool.Discard(transport);
        await Poll.UntilAsync(() => transport.IsDisposed, $"the last lease on profile '{profile}''s transport to be released", TimeSpan.FromSeconds(10));
    }

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        var disposed = _services.DisposeAsync();
        _files.Dispose();
        return disposed;
    }

    /// <summary>What a host's routing does for the two invocation routes.</summary>
    private sealed class Routes(PipelineHarness harness) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var target = request.RequestUri!.PathAndQuery;
            var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
                .Where(h => !h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) && !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .SelectMany(h => h.Value.Select(v => (h.Key, v)));
            if (target.StartsWith("/api/invoke", StringComparison.Ordinal) && request.Method == HttpMethod.Post)
            {
                return harness.SendAsync(request.Method, target, request.Content, (api, context) => api.InvokeAsync(context), headers, cancellationToken);
            }
            const string forward = "/api/forward/";
            if (target.StartsWith(forward, StringComparison.Ordinal))
            {
                var profile = target[forward.Length..].Split('/', '?')[0];
                return harness.SendAsync(request.Method, target, request.Content, (api, context) => api.ForwardAsync(context, profile), headers, cancellationToken);
            }
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { RequestMessage = request });
        }
    }

    /// <summary>The connection's lifetime as a server has it: aborting the connection also signals RequestAborted.</summary>
    private sealed class Lifetime : IHttpRequestLifetimeFeature, IDisposable
    {
        private readonly CancellationTokenSource _aborted;

        public Lifetime(CancellationToken callerGone)
        {
            _aborted = CancellationTokenSource.CreateLinkedTokenSource(callerGone);
            RequestAborted = _aborted.Token;
        }

        public CancellationToken RequestAborted { get; set; }

        public bool Cut { get; private set; }

        public void Abort()
        {
            Cut = true;
            _aborted.Cancel();
        }

        public void Dispose() => _aborted.Dispose();
    }

    /// <summary>
    /// The reply as a server (Kestrel) keeps it: it has started once its first byte is written or it is flushed, and from
    /// then on its status and headers cannot change (setting them throws, and so does HttpResponse.Clear), so a failure
    /// after the first byte can only cut the connection. A <see cref="DefaultHttpContext"/>'s own reply never starts.
    /// </summary>
    private sealed class ServerResponse : IHttpResponseFeature, IHttpResponseBodyFeature
    {
        private readonly HeaderDictionary _headers = new();
        private readonly List<(Func<object, Task> Callback, object State)> _starting = [];
        private int _status = StatusCodes.Status200OK;

        public ServerResponse()
        {
            Stream = new StartingStream(this);
            Writer = System.IO.Pipelines.PipeWriter.Create(Stream, new System.IO.Pipelines.StreamPipeWriterOptions(leaveOpen: true));
        }

        public MemoryStream Written { get; } = new();

        public int StatusCode
        {
            get => _status;
            set
            {
                if (HasStarted)
                {
                    throw new InvalidOperationException("StatusCode cannot be set because the response has already started.");
                }
                _status = value;
            }
        }

        public string? ReasonPhrase { get; set; }

        public IHeaderDictionary Headers
        {
            get => _headers;
            set => throw new NotSupportedException();
        }

        [Obsolete("Use IHttpResponseBodyFeature.Stream instead.")]
        public Stream Body
        {
            get => Stream;
            set => throw new NotSupportedException();
        }

        public bool HasStarted { get; private set; }

        public Stream Stream { get; }

        public System.IO.Pipelines.PipeWriter Writer { get; }

        public void OnStarting(Func<object, Task> callback, object state) => _starting.Insert(0, (callback, state));

        public void OnCompleted(Func<object, Task> callback, object state)
        {
        }

        public void DisableBuffering()
        {
        }

        public async Task StartAsync(CancellationToken cancellationToken = default)
        {
            if (HasStarted)
            {
                return;
            }
            foreach (var (callback, state) in _starting)
            {
                await callback(state);
            }
            HasStarted = true;
            _headers.IsReadOnly = true;
        }

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public async Task CompleteAsync()
        {
            await Writer.FlushAsync();
            await StartAsync();
        }

        private sealed class StartingStream(ServerResponse response) : Stream
        {
            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await response.StartAsync(cancellationToken);
                response.Written.Write(buffer.Span);
            }

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override Task FlushAsync(CancellationToken cancellationToken) => response.StartAsync(cancellationToken);

            public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous writes are disallowed (as on Kestrel).");
            public override void Flush() => throw new InvalidOperationException("Synchronous flushes are disallowed (as on Kestrel).");
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => canHaveBody;
    }

    /// <summary>A request as the backend received it.</summary>
    public sealed record SentRequest(HttpMethod Method, Uri Url, IReadOnlyDictionary<string, string[]> Headers, byte[]? Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var values) ? string.Join(", ", values) : null;
    }

    private sealed class Recorder(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> backend) : HttpMessageHandler
    {
        private readonly List<SentRequest> _sent = [];

        public IReadOnlyList<SentRequest> Sent
        {
            get
            {
                lock (_sent)
                {
                    return _sent.ToArray();
                }
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var headers = request.Headers.NonValidated.Concat(request.Content?.Headers.NonValidated ?? default)
                .GroupBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.SelectMany(h => h.Value).ToArray(), StringComparer.OrdinalIgnoreCase);
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            lock (_sent)
            {
                _sent.Add(new SentRequest(request.Method, request.RequestUri!, headers, body));
            }
            var response = await backend(request, cancellationToken);
            response.RequestMessage ??= request;
            return response;
        }
    }

    /// <summary>Every profile's transport sends through the recorder (kept alive across transports: the pool disposes its handlers).</summary>
    private sealed class Handlers(Recorder recorder) : IBackendHandlers
    {
        public HttpMessageHandler Create(TlsProfile profile, ProfileMaterial material, Action<Uri, SslProtocols> connected) =>
            new Undisposed(recorder);
    }

    private sealed class Undisposed(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override void Dispose(bool disposing)
        {
            // the recorder outlives every transport
        }
    }
}
