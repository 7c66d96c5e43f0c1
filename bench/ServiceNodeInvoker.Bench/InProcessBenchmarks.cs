using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http.Features;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Standalone.Demo;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// Allocations of the in-process path for a 1 KiB JSON body: parsing the request, and a whole envelope
/// invocation through InvokeEndpoint against the real mTLS backend, next to the direct HttpClient call
/// it wraps (the difference is our code path).
/// </summary>
[MemoryDiagnoser]
public class InProcessBenchmarks
{
    private BenchPki _pki = null!;
    private MutualTlsBackend _backend = null!;
    private Invoker _invoker = null!;
    private Direct _direct = null!;
    private byte[] _payload = null!;
    private byte[] _request = null!;
    private InvokeEndpoint _endpoint = null!;
    private IServiceProvider _services = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pki = new BenchPki();
        _backend = _pki.StartBackendAsync().GetAwaiter().GetResult();
        _invoker = Invoker.StartAsync(_pki, _backend, passthrough: false).GetAwaiter().GetResult();
        _direct = new Direct(_pki, _backend);
        _payload = LoadHarness.Payload(1024);
        using var request = _invoker.Request(_payload);
        _request = request.Content!.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        _services = _invoker.App.Services;
        _endpoint = _services.GetRequiredService<InvokeEndpoint>();
        Invoke().GetAwaiter().GetResult(); // certificate loaded, connection open
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _direct.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _invoker.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _backend.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _pki.Dispose();
    }

    [Benchmark]
    public object ParseRequest() => InvocationRequestParser.Parse(_request);

    [Benchmark(Baseline = true)]
    public async Task DirectCall()
    {
        using var request = _direct.Request(_payload);
        using var response = await _direct.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await (await response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
    }

    [Benchmark]
    public async Task EnvelopeInvocation() => await Invoke();

    /// <summary>The invoker's send alone (profile, certificate, pooled transport: steps 3–5), without the HTTP endpoint around it.</summary>
    [Benchmark]
    public async Task InvokerSend()
    {
        var request = InvocationRequestParser.Parse(_request);
        var profile = _services.GetRequiredService<ServiceNodeInvoker.Profiles.ProfileCatalog>().Resolve(request.Profile, request.Url);
        var material = await _services.GetRequiredService<ServiceNodeInvoker.Certificates.CertificateStore>().For(profile).GetAsync(CancellationToken.None);
        using var deadline = new ServiceNodeInvoker.Transport.CallDeadline(profile.EffectiveTimeout(request.Timeout), CancellationToken.None);
        using var exchange = await _services.GetRequiredService<ServiceNodeInvoker.Transport.ProfileSender>()
            .SendAsync(profile, material, ServiceNodeInvoker.Invocation.BackendRequest.Build(request), deadline);
        await (await exchange.Response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
    }

    private async Task Invoke()
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Request.Method = "POST";
        context.Request.ContentLength = _request.Length;
        context.Request.Body = new MemoryStream(_request, writable: false);
        context.Request.Headers["x-functions-key"] = "bench-api-key";
        context.Response.Body = Stream.Null;
        var result = await _endpoint.HandleAsync(context);
        await result.ExecuteAsync(context);
        if (context.Response.StatusCode != 200)
        {
            throw new InvalidOperationException($"invocation failed: {context.Response.StatusCode}");
        }
    }
}
