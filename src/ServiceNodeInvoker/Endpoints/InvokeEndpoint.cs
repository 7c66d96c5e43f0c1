using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Invocation;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// <c>POST /api/invoke</c>: the JSON invocation request, answered as an envelope or passed through.
/// Hosts (standalone, Azure Functions) call <see cref="HandleAsync"/> and return its result.
/// </summary>
internal sealed class InvokeEndpoint
{
    private readonly InvocationPipeline _pipeline;
    private readonly InvokeEntryReader _reader;

    internal InvokeEndpoint(InvocationPipeline pipeline, RequestLimits limits)
    {
        _pipeline = pipeline;
        _reader = new InvokeEntryReader(limits);
    }

    /// <summary>Runs the invocation the request's body describes.</summary>
    public Task<IResult> HandleAsync(HttpContext context) => _pipeline.RunAsync(context, _reader);
}
