using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Transport;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Runs one invocation up to the backend's response headers: picks the profile, takes the cached
/// certificate, sends over the profile's pooled mutual-TLS transport, and classifies failures.
/// </summary>
public sealed partial class Invoker(
    ProfileCatalog catalog,
    CertificateStore certificates,
    TransportPool transports,
    CallerGrants grants,
    TimeProvider time,
    ILogger<Invoker> logger)
{
    /// <param name="caller">The authenticated caller's name, when the host knows it.</param>
    /// <param name="record">This invocation's telemetry; tagged here with the profile and target.</param>
    public async Task<InvocationOutcome> SendAsync(InvocationRequest request, string? caller, InvocationRecord? record, CancellationToken callerAborted)
    {
        var started = time.GetTimestamp();
        var profile = catalog.Resolve(request.Profile, request.Url);
        var target = HostKey.FromUri(request.Url);
        record?.Target(profile.Name, request.Method.Method, target.Host, target.Port, request.Url);
        if (!grants.Allows(caller, profile))
        {
            throw new InvokerException(ErrorCodes.CallerNotAllowed,
                $"The caller {(caller is null ? "(unnamed)" : $"'{caller}'")} has no grant for profile '{profile.Name}'.", "profile");
        }
        var material = await certificates.For(profile).GetAsync(callerAborted);
        record?.ClientCertificate(material.Client?.ThumbprintSha256);
        var lease = transports.Acquire(profile, material);
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(callerAborted);
        timeout.CancelAfter(profile.EffectiveTimeout(request.Timeout));
        HttpRequestMessage? message = null;
        try
        {
            message = BuildMessage(request);
            var response = await lease.Transport.Invoker.SendAsync(message, timeout.Token);
            if (BackendResponse.Check(response, request.Url, profile) is { } invalid)
            {
                response.Dispose();
                transports.Discard(lease.Transport); // none of its pooled connections is reused
                throw invalid;
            }
            if (request.Response == ResponseMode.Passthrough && BackendResponse.CheckRelayableHeaders(response, request.Url) is { } unrelayable)
            {
                response.Dispose();
                throw unrelayable;
            }
            if (await RefusalAsync(response, profile, request, material, timeout.Token) is { } refused)
            {
                response.Dispose();
                throw refused;
            }
            return new InvocationOutcome(request, profile, material, lease, response, timeout, callerAborted, time, started, target);
        }
        catch (Exception e)
        {
            var timedOut = timeout.IsCancellationRequested && !callerAborted.IsCancellationRequested;
            timeout.Dispose();
            lease.Dispose();
            if (callerAborted.IsCancellationRequested)
            {
                throw new OperationCanceledException("The caller went away.", e, callerAborted);
            }
            WireWitness? witness = null;
            message?.Options.TryGetValue(WireWitness.OptionKey, out witness);
            var error = FailureClassifier.Classify(e, profile, request, timedOut, presentedClientCertificate: material.Client is not null, witness);
            if (error.ClientCertificateRefused)
            {
                certificates.For(profile).RequestEarlyRefresh();
            }
            Log.Failed(logger, profile.Name, request.Method.Method, target.ToString(), error.Code,
                time.GetElapsedTime(started).TotalMilliseconds, LogText.Escape(error.Message));
            throw error;
        }
        finally
        {
            message?.Dispose();
        }
    }

    /// <summary>
    /// A refusal of our certificate sent as an HTTP page after the handshake (nginx's 400s, IIS's 403.x),
    /// recognised by exact markers only (see <see cref="CertificateRefusal"/>). A small 400/403 HTML body is
    /// read into the response's own buffer to look, so it can still be relayed when it is the backend's own.
    /// </summary>
    private static async Task<InvokerException?> RefusalAsync(HttpResponseMessage response, TlsProfile profile, InvocationRequest request,
        ProfileMaterial material, CancellationToken token)
    {
        var status = (int)response.StatusCode;
        var mediaType = HeaderPolicy.ContentType(response)?.MediaType?.ToLowerInvariant();
        if (!CertificateRefusal.MayBe(status, mediaType) || request.Method == HttpMethod.Head
            || HeaderPolicy.ContentLength(response) is not (> 0 and <= CertificateRefusal.InspectBytes))
        {
            return null;
        }
        await response.Content.LoadIntoBufferAsync(CertificateRefusal.InspectBytes, token);
        var body = await response.Content.ReadAsByteArrayAsync(token);
        if (CertificateRefusal.Recognise(status, body) is not { } why)
        {
            return null;
        }
        var target = HostKey.FromUri(request.Url);
        var ours = material.Client is { } client
            ? $"our client certificate {client.Subject} (issued by {client.Leaf.Issuer})"
            : "no client certificate: the profile has none (set ClientCertificate)";
        var cause = material.Client is null ? FailureCauses.ClientCertificateMissing : FailureCauses.ClientCertificateRefused;
        return new Diagnosis(ErrorCodes.TlsHandshakeFailed, cause,
            $"{target} completed the TLS handshake and then answered {status} with its certificate-refusal page: {why}. " +
            $"We presented {ours} (profile '{profile.Name}').").ToException(null);
    }

    internal static HttpRequestMessage BuildMessage(InvocationRequest request)
    {
        var message = new HttpRequestMessage(request.Method, request.Url)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        if (request.Body is { } body)
        {
            message.Content = new ReadOnlyMemoryContent(body.Content);
        }
        else if (request.StreamedBody is { } streamed)
        {
            message.Content = streamed;
        }
        HashSet<string>? connectionListed = null;
        foreach (var (name, values) in request.Headers)
        {
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                connectionListed = HeaderPolicy.NamesListedInConnection(values);
            }
        }
        foreach (var (name, values) in request.Headers)
        {
            if (HeaderPolicy.IsHopByHop(name) || connectionListed?.Contains(name) == true)
            {
                continue;
            }
            if (HeaderPolicy.IsContentHeader(name))
            {
                message.Content ??= new ReadOnlyMemoryContent(ReadOnlyMemory<byte>.Empty);
                message.Content.Headers.Remove(name);
                message.Content.Headers.TryAddWithoutValidation(name, values);
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, values);
            }
        }
        if (request.Body is { } withBody && message.Content!.Headers.ContentType is null
            && !request.Headers.Any(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(withBody.DefaultContentType);
        }
        return message;
    }

    private static partial class Log
    {
        [LoggerMessage(2002, LogLevel.Warning, "Invocation failed: profile {Profile} {Method} {Target} → {Code} after {DurationMs:F1} ms: {Reason}")]
        public static partial void Failed(ILogger logger, string profile, string method, string target, string code, double durationMs, string reason);
    }
}
