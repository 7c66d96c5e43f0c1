using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// One invocation, top to bottom, the same for /api/invoke (envelope, passthrough) and /api/forward:
/// <list type="number">
/// <item>the caller: authenticated before anything of its request is read;</item>
/// <item>the request: read the way its entry reads it (<see cref="IInvocationReader"/>), which also picks the mode;</item>
/// <item>the profile that owns the target, and the caller's grant on it;</item>
/// <item>the certificate: the cached material (never a source call while it is valid), and the profile's access token
/// when it has a token source (cached per certificate; never a token request while it is usable);</item>
/// <item>connect and send over the profile's pooled mutual-TLS transport, up to the response headers (once more with a
/// new token when the backend refuses the token and the request can be sent again);</item>
/// <item>check the answer (framing, relayable headers, a certificate-refusal page);</item>
/// <item>answer the caller the mode's way (<see cref="InvocationMode"/>).</item>
/// </list>
/// Failures are mapped to replies in one place (<see cref="Fail"/>); every problem carries the
/// <see cref="InvokerHeaders.Error"/> header, so a passthrough or forward caller can tell it from the
/// backend's own answer without reading the body.
/// </summary>
internal sealed class InvocationPipeline(
    CallerAuthenticator callers,
    CallerGrants grants,
    ProfileCatalog catalog,
    CertificateStore certificates,
    TokenStore tokens,
    TransportPool transports,
    AcceptedIssuers acceptedIssuers,
    InvokerTelemetry telemetry,
    ResponseBufferBudget budget,
    TimeProvider time,
    ILogger<InvocationPipeline> logger)
{
    private readonly EnvelopeMode _envelope = new(budget, logger);
    private readonly PassthroughMode _passthrough = new(logger, PassthroughMode.Kind.Passthrough);
    private readonly PassthroughMode _forward = new(logger, PassthroughMode.Kind.Forward);

    /// <summary>Runs one invocation and returns the reply; a reply that streams ends the invocation's telemetry itself.</summary>
    public async Task<IResult> RunAsync(HttpContext context, IInvocationReader reader, string? routeProfile = null)
    {
        StartupTimeline.Mark("first-request");
        var record = telemetry.Begin();
        IResult? result = null;
        try
        {
            return result = await RunCoreAsync(context, reader, routeProfile, record);
        }
        finally
        {
            if (result is not InvocationMode.IOwnsRecord)
            {
                record.Dispose();
            }
        }
    }

    private async Task<IResult> RunCoreAsync(HttpContext context, IInvocationReader reader, string? routeProfile, InvocationRecord record)
    {
        try
        {
            // 1. The caller.
            var caller = await callers.AuthenticateInvocationAsync(context);
            if (!caller.Authenticated)
            {
                throw new InvokerException(ErrorCodes.Unauthenticated, $"The caller is not authenticated: {caller.Problem}.");
            }

            // 2. The request, and with it the mode.
            StartupTimeline.Mark("first-caller");
            var request = await reader.ReadAsync(context, routeProfile);
            StartupTimeline.Mark("first-read");
            var mode = ModeOf(request);

            // 3–6. Profile and grant, certificate, connect and send, check the answer.
            var outcome = await SendAsync(request, caller.Caller, record, context.RequestAborted);
            if (outcome.DeclaredBodyLength > outcome.Profile.MaxResponseBytes)
            {
                outcome.Dispose();
                throw TooLarge(outcome.Profile);
            }

            // 7. The answer.
            StartupTimeline.Mark("first-backend-answer");
            if (outcome.TokenNote is { } note)
            {
                context.Response.Headers[InvokerHeaders.Token] = note;
            }
            return await mode.AnswerAsync(outcome, context, record);
        }
        catch (Exception e)
        {
            return Fail(e, context, record);
        }
    }

    private InvocationMode ModeOf(InvocationRequest request) => request.Response switch
    {
        ResponseMode.Passthrough => _passthrough,
        ResponseMode.Forward => _forward,
        _ => _envelope,
    };

    /// <summary>
    /// Steps 3 to 6: picks the profile and checks the grant, takes the cached certificate, sends over the
    /// profile's pooled transport and checks the answer, up to the backend's response headers.
    /// </summary>
    /// <param name="caller">The authenticated caller's name, when the host knows it.</param>
    /// <param name="record">This invocation's telemetry; tagged here with the profile and target.</param>
    public async Task<InvocationOutcome> SendAsync(InvocationRequest request, string? caller, InvocationRecord? record, CancellationToken callerAborted)
    {
        var started = time.GetTimestamp();

        // 3. The profile that owns the target, and the caller's grant on it.
        var profile = catalog.Resolve(request.Profile, request.Url);
        var target = HostKey.FromUri(request.Url);
        record?.Target(profile.Name, request.Method.Method, target.Host, target.Port, request.Url);
        if (!grants.Allows(caller, profile))
        {
            throw new InvokerException(ErrorCodes.CallerNotAllowed,
                $"The caller {(caller is null ? "(unnamed)" : $"'{caller}'")} has no grant for profile '{profile.Name}'.", "profile");
        }

        var tokenCache = tokens.For(profile);
        if (tokenCache is not null && CarriesAuthorization(request))
        {
            // The profile's certificate-bound token goes in Authorization: a caller's own would be sent beside it or lost.
            throw InvokerException.Invalid("headers", $"Profile '{profile.Name}' sends its own OAuth access token to the backend " +
                "(its Token settings): the request may not carry an Authorization header. Remove it.");
        }

        // The call's deadline covers everything done for it from here on: waiting for the token included.
        var wait = profile.EffectiveTimeout(request.Timeout);
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(callerAborted);
        timeout.CancelAfter(wait);
        async ValueTask<AccessToken> TokenAsync(ProfileMaterial material)
        {
            try
            {
                return await tokenCache!.GetAsync(material, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !callerAborted.IsCancellationRequested)
            {
                throw tokenCache!.NotInTime(wait);
            }
        }

        // 4. The certificate, and the access token bound to it.
        ProfileMaterial material;
        AccessToken? token;
        try
        {
            material = await certificates.For(profile).GetAsync(wait, callerAborted); // a cold load is waited for within the same deadline
            StartupTimeline.Mark("first-certificate");
            record?.ClientCertificate(material.Client?.ThumbprintSha256);
            token = tokenCache is null ? null : await TokenAsync(material);
        }
        catch
        {
            timeout.Dispose();
            throw;
        }

        // 5. Connect and send.
        var lease = transports.Acquire(profile, material);
        StartupTimeline.Mark("first-transport");
        HttpRequestMessage? message = null;
        try
        {
            message = BackendRequest.Build(request, token);
            var response = await lease.Transport.Invoker.SendAsync(message, timeout.Token);
            string? tokenNote = null;
            if (token is not null && BearerChallenge.IsInvalidToken(response))
            {
                // The backend refused the token (revoked, expired early, bound elsewhere). A new one is asked for at most once
                // per ForcedRenewalInterval (concurrent refusals share it); a request whose body we hold goes once more with
                // it; a streamed body is gone, so its 401 is relayed. Within the interval the 401 is the answer.
                var renewed = tokenCache!.Refused(token);
                tokenNote = !renewed ? "retry-skipped" : request.StreamedBody is null ? "refreshed" : "not-retried";
                if (renewed && request.StreamedBody is null)
                {
                    response.Dispose();
                    message.Dispose();
                    token = await TokenAsync(material);
                    message = BackendRequest.Build(request, token);
                    response = await lease.Transport.Invoker.SendAsync(message, timeout.Token);
                    if (BearerChallenge.IsInvalidToken(response))
                    {
                        tokenCache.Refused(token); // refused again: the backend's 401 is the answer; the token is renewed no sooner than the interval allows
                    }
                }
            }

            // 6. Check the answer.
            if (await BackendResponse.ProblemAsync(response, request, profile, material, timeout.Token,
                    WireWitness.Of(message)?.Flight(), acceptedIssuers.Of(profile, target)) is { } problem)
            {
                response.Dispose();
                if (problem.Unframed)
                {
                    transports.Discard(lease.Transport); // none of its pooled connections is reused
                }
                throw problem.Error;
            }
            return new InvocationOutcome(request, profile, material, lease, response, timeout, callerAborted, time, started, target)
            {
                TokenNote = tokenNote,
            };
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
            var error = e as InvokerException ?? FailureClassifier.Classify(e, profile, request, timedOut,
                presentedClientCertificate: material.Client is not null, WireWitness.Of(message), material.Client, acceptedIssuers.Of(profile, target));
            if (error.ClientCertificateRefused)
            {
                certificates.For(profile).RequestEarlyRefresh();
            }
            InvocationLog.Failed(logger, profile.Name, request.Method.Method, target.ToString(), error.Code,
                time.GetElapsedTime(started).TotalMilliseconds, LogText.Escape(error.Message));
            throw new LoggedFailure(error);
        }
        finally
        {
            message?.Dispose();
        }
    }

    private static bool CarriesAuthorization(InvocationRequest request)
    {
        foreach (var (name, _) in request.Headers)
        {
            if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    internal static InvokerException TooLarge(TlsProfile profile) =>
        new(ErrorCodes.ResponseTooLarge,
            $"The backend's response body is larger than {profile.MaxResponseBytes} bytes, the MaxResponseBytes of profile '{profile.Name}'.");

    /// <summary>Every failure of an invocation becomes its reply here, and nowhere else.</summary>
    private IResult Fail(Exception e, HttpContext context, InvocationRecord record)
    {
        switch (e)
        {
            case LoggedFailure logged:
                // A backend failure, logged with its profile and duration where it happened.
                return Problem(logged.Error, context, record);
            case InvokerException error:
                InvocationLog.Rejected(logger, error.Code, LogText.Escape(error.Field ?? "-"), LogText.Escape(error.Message));
                return Problem(error, context, record);
            case BadHttpRequestException framing:
                // Broken framing (a bad chunk size, a body that stops short of its Content-Length and stalls):
                // the status the server itself gives, never a success.
                InvocationLog.BrokenRequest(logger, framing.StatusCode, LogText.Escape(framing.Message));
                record.Cut("request-framing");
                return Results.StatusCode(framing.StatusCode);
            case IOException or OperationCanceledException:
                // The caller went away (while sending, or while we waited): nothing to answer, and never an empty 200.
                record.Cut("caller-gone");
                context.Abort();
                return Results.Empty;
            default:
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
                return null!;
        }
    }

    /// <summary>The problem reply for an invoker error, marked with <see cref="InvokerHeaders.Error"/>.</summary>
    internal static IResult Problem(InvokerException error, HttpContext context, InvocationRecord record)
    {
        record.Failed(error);
        return ProblemResponse.From(error, context);
    }

    /// <summary>An invoker error already logged where it happened (the send step logs backend failures with their timing).</summary>
    private sealed class LoggedFailure(InvokerException error) : Exception(error.Message, error)
    {
        public InvokerException Error => error;
    }
}
