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
/// <item>the request: read the way its entry reads it (<see cref="IEntryReader"/>), which also picks the mode;</item>
/// <item>the profile that owns the target, and the caller's grant on it;</item>
/// <item>the certificate: the cached material (never a source call while it is valid), and the profile's access token
/// when it has a token source (<see cref="BearerTokenPolicy"/>: cached per certificate; never a token request while it is usable);</item>
/// <item>connect and send over the profile's pooled mutual-TLS transport (<see cref="ProfileSender"/>), up to the
/// response headers — through the token step when the profile has one (once more with a new token when the backend
/// refuses it and the request can be sent again);</item>
/// <item>check the answer (framing, relayable headers, a certificate-refusal page, the declared length);</item>
/// <item>answer the caller: the mode owns the answer from here (<see cref="InvocationMode"/>).</item>
/// </list>
/// Every failure becomes its reply in one place (<see cref="InvocationFailures"/>); nothing here is thrown to steer.
/// </summary>
internal sealed class InvocationPipeline(
    CallerAuthenticator callers,
    CallerGrants grants,
    ProfileCatalog catalog,
    CertificateStore certificates,
    TokenStore tokens,
    ProfileSender sender,
    InvokerTelemetry telemetry,
    ResponseBufferBudget budget,
    TimeProvider time,
    ILogger<InvocationPipeline> logger)
{
    // Stateless but for the logger: the pipeline and each mode reply to failures the same one way.
    private readonly InvocationFailures _failures = new(logger);
    private readonly EnvelopeMode _envelope = new(budget, new InvocationFailures(logger), logger);
    private readonly PassthroughMode _passthrough = new(new InvocationFailures(logger), logger);
    private readonly ForwardMode _forward = new(new InvocationFailures(logger), logger);

    /// <summary>Runs one invocation and returns the reply; a reply that streams ends the invocation's telemetry itself.</summary>
    public async Task<IResult> RunAsync(HttpContext context, IEntryReader reader, string? routeProfile = null)
    {
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

    private async Task<IResult> RunCoreAsync(HttpContext context, IEntryReader reader, string? routeProfile, InvocationRecord record)
    {
        try
        {
            // 1. The caller.
            var caller = await callers.AuthenticateInvocationAsync(context);
            if (!caller.Authenticated)
            {
                return _failures.Reply(new InvokerException(ErrorCodes.Unauthenticated, $"The caller is not authenticated: {caller.Problem}."), context, record);
            }
            record.Caller(caller.Caller);

            // 2. The request, and with it the mode.
            var request = await reader.ReadAsync(context, routeProfile);
            var mode = ModeOf(request);

            // 3. The profile that owns the target, and the caller's grant on it.
            var profile = catalog.Resolve(request.Profile, request.Url);
            var target = HostKey.FromUri(request.Url);
            record.Target(profile.Name, request.Method.Method, target.Host, target.Port, request.Url);
            if (!grants.Allows(caller.Caller, profile))
            {
                return _failures.Reply(new InvokerException(ErrorCodes.CallerNotAllowed,
                    $"The caller {(caller.Caller is null ? "(unnamed)" : $"'{caller.Caller}'")} has no grant for profile '{profile.Name}'.", "profile"),
                    context, record);
            }
            var bearer = tokens.BearerFor(profile);
            if (bearer?.RefuseCallerAuthorization(request) is { } carriesAuthorization)
            {
                return _failures.Reply(carriesAuthorization, context, record);
            }

            // The call's deadline covers everything done for it from here on: waiting for the certificate and the token included.
            var started = time.GetTimestamp();
            var deadline = new CallDeadline(profile.EffectiveTimeout(request.Timeout), context.RequestAborted);
            InvocationOutcome? outcome = null;
            var handedOver = false;
            try
            {
                // 4. The certificate, and the access token bound to it.
                var material = await certificates.For(profile).GetAsync(deadline.Wait, context.RequestAborted); // a cold load waits within the deadline
                record.ClientCertificate(material.Client?.ThumbprintSha256);
                var token = bearer is null ? null : await bearer.TokenAsync(material, deadline);

                // 5. Connect and send.
                Exchange exchange;
                string? tokenNote = null;
                try
                {
                    (exchange, tokenNote) = bearer is null
                        ? (await sender.SendAsync(profile, material, BackendRequest.Build(request), deadline), null)
                        : await SendWithTokenAsync(bearer, token!, profile, material, request, deadline);
                }
                catch (SendFailedException failed)
                {
                    return Failed(FailureClassifier.Classify(failed), material, profile, request, target, started, context, record);
                }
                catch (InvokerException renewal)
                {
                    // The backend refused the token and no new one came in time: a failure of the exchange with the
                    // backend (logged with its profile, target and duration, like a failed send).
                    return Failed(renewal, material, profile, request, target, started, context, record);
                }

                // 6. Check the answer.
                if (await CheckAsync(exchange, request, mode, profile, material, target, deadline) is { } problem)
                {
                    return Failed(problem, material, profile, request, target, started, context, record);
                }
                outcome = new InvocationOutcome(request, profile, material, target, exchange, deadline, time, started) { TokenNote = tokenNote };
                if (outcome.DeclaredBodyLength > profile.MaxResponseBytes)
                {
                    return _failures.Reply(outcome.TooLarge(), context, record);
                }

                // 7. The answer: the mode's, success or failure, from here on (it owns the outcome).
                if (tokenNote is not null)
                {
                    context.Response.Headers[InvokerHeaders.Token] = tokenNote;
                }
                handedOver = true;
                return await mode.AnswerAsync(outcome, context, record);
            }
            finally
            {
                if (!handedOver)
                {
                    // Answered with a problem (or failed before the backend answered): the answer is not read.
                    if (outcome is not null)
                    {
                        outcome.Dispose();
                    }
                    else
                    {
                        deadline.Dispose();
                    }
                }
            }
        }
        catch (Exception e)
        {
            return _failures.Reply(e, context, record);
        }
    }

    /// <summary>
    /// Step 5 through the token step. Its own method: the lambdas capture only its parameters, so a call without a token
    /// allocates no closure for them (captured in <see cref="RunCoreAsync"/>, every call would).
    /// </summary>
    private Task<(Exchange Exchange, string? Note)> SendWithTokenAsync(BearerTokenPolicy bearer, AccessToken token, TlsProfile profile,
        ProfileMaterial material, InvocationRequest request, CallDeadline deadline) =>
        bearer.SendAsync(token, material, deadline, resendable: request.StreamedBody is null,
            () => BackendRequest.Build(request), message => sender.SendAsync(profile, material, message, deadline));

    private InvocationMode ModeOf(InvocationRequest request) => request.Response switch
    {
        ResponseMode.Passthrough => _passthrough,
        ResponseMode.Forward => _forward,
        _ => _envelope,
    };

    /// <summary>Step 6: the problem with the backend's answer, or null; an answer that cannot be framed retires its transport.</summary>
    private async ValueTask<InvokerException?> CheckAsync(Exchange exchange, InvocationRequest request, InvocationMode mode, TlsProfile profile,
        ProfileMaterial material, HostKey target, CallDeadline deadline)
    {
        try
        {
            if (await BackendResponse.ProblemAsync(exchange.Response, request, mode.RelaysHeaders, profile, material, deadline.Token,
                    exchange.Witness?.Flight(), sender.AcceptedBy(profile, target)) is not { } problem)
            {
                return null;
            }
            if (problem.Unframed)
            {
                sender.Discard(exchange); // none of its pooled connections is reused
            }
            exchange.Dispose();
            return problem.Error;
        }
        catch (Exception e) when (!deadline.CallerGone)
        {
            // Reading a small refusal page failed (it broke off, or the deadline passed).
            exchange.Dispose();
            return FailureClassifier.Classify(e, sender.EvidenceOf(profile, material, exchange.Message, deadline));
        }
        catch (Exception e)
        {
            exchange.Dispose();
            throw new OperationCanceledException("The caller went away.", e, deadline.CallerAborted);
        }
    }

    /// <summary>A failed exchange: a refused certificate is looked at again soon; the reply is the failure's.</summary>
    private IResult Failed(InvokerException error, ProfileMaterial material, TlsProfile profile, InvocationRequest request, HostKey target, long started,
        HttpContext context, InvocationRecord record)
    {
        if (error.ClientCertificateRefused)
        {
            certificates.For(profile).RequestEarlyRefresh();
        }
        return _failures.Backend(error, profile, request, target, time.GetElapsedTime(started), context, record);
    }
}
