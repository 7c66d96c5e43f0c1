using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// <c>/api/forward/{profile}/{**path}</c>: the caller uses our URL in place of the backend's. The caller's
/// method, end-to-end headers and body (streamed) go to the profile's BaseUrl + path + query; the backend's
/// status, headers and body come back streamed. Callers authenticate as for /api/invoke; invoker errors are
/// the same problem+json, marked by <see cref="InvokerHeaders.Error"/>.
/// </summary>
internal sealed class ForwardEndpoint
{
    private readonly InvocationPipeline _pipeline;
    private readonly ForwardEntryReader _reader;

    internal ForwardEndpoint(InvocationPipeline pipeline, ProfileCatalog catalog, RequestLimits limits)
    {
        _pipeline = pipeline;
        _reader = new ForwardEntryReader(catalog, limits);
    }

    /// <summary>Forwards the caller's request to the named profile's BaseUrl.</summary>
    public Task<IResult> HandleAsync(HttpContext context, string profile) => _pipeline.RunAsync(context, _reader, profile);
}
