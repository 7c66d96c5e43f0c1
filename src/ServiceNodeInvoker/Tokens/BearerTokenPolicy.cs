using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// The profile's access token as one step of a backend call (like Azure.Core's <c>BearerTokenAuthenticationPolicy</c>):
/// the caller may not bring an Authorization of its own; the token of the certificate about to be presented is taken
/// from the profile's <see cref="TokenCache"/> within the call's deadline and attached as <c>Authorization: Bearer</c>;
/// when the backend refuses it (401 <c>invalid_token</c>) a new one is asked for at most once per
/// <see cref="TokenCache.ForcedRenewalInterval"/> (concurrent refusals share it) and a request that can be sent again
/// goes once more with it. The <see cref="Note"/> says what happened, for the <c>invoker-token</c> header.
/// </summary>
internal sealed class BearerTokenPolicy(TokenCache cache)
{
    /// <summary>What became of a refused token, for <see cref="InvokerHeaders.Token"/>.</summary>
    public static class Note
    {
        /// <summary>A new token was asked for and the request sent again with it.</summary>
        public const string Refreshed = "refreshed";

        /// <summary>A new token was asked for; the request's body was streamed, so the backend's 401 is the answer.</summary>
        public const string NotRetried = "not-retried";

        /// <summary>A refusal forced a new token moments ago: this one is kept, and the backend's 401 is the answer.</summary>
        public const string RetrySkipped = "retry-skipped";
    }

    /// <summary>The refusal of a request that carries its own Authorization, or null.</summary>
    public InvokerException? RefuseCallerAuthorization(InvocationRequest request)
    {
        foreach (var (name, _) in request.Headers)
        {
            if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                // The profile's certificate-bound token goes in Authorization: a caller's own would be sent beside it or lost.
                return InvokerException.Invalid("headers", $"Profile '{cache.Profile.Name}' sends its own OAuth access token to the backend " +
                    "(its Token settings): the request may not carry an Authorization header. Remove it.");
            }
        }
        return null;
    }

    /// <summary>The token for this certificate, waited for within the call's deadline (the reply names what the endpoint last said).</summary>
    public async ValueTask<AccessToken> TokenAsync(ProfileMaterial material, CallDeadline deadline)
    {
        try
        {
            return await cache.GetAsync(material, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            throw cache.NotInTime(deadline.Wait);
        }
    }

    /// <summary>Sends the request built by <paramref name="build"/> with <paramref name="token"/>; once more with a new token when refused and <paramref name="resendable"/>.</summary>
    /// <param name="send">The send step (<see cref="ProfileSender"/>); it owns each message it is given.</param>
    public async Task<(Exchange Exchange, string? Note)> SendAsync(AccessToken token, ProfileMaterial material, CallDeadline deadline, bool resendable,
        Func<HttpRequestMessage> build, Func<HttpRequestMessage, Task<Exchange>> send)
    {
        var exchange = await send(Attach(build(), token));
        try
        {
            if (!BearerChallenge.IsInvalidToken(exchange.Response))
            {
                return (exchange, null);
            }
            // The backend refused the token (revoked, expired early, bound elsewhere).
            if (!cache.Refused(token))
            {
                return (exchange, Note.RetrySkipped);
            }
            if (!resendable)
            {
                return (exchange, Note.NotRetried); // a streamed body is gone: its 401 is relayed
            }
        }
        catch
        {
            exchange.Dispose(); // nobody else will release this answer: its lease and connection go back
            throw;
        }
        exchange.Dispose();
        token = await TokenAsync(material, deadline);
        exchange = await send(Attach(build(), token));
        try
        {
            if (BearerChallenge.IsInvalidToken(exchange.Response))
            {
                cache.Refused(token); // refused again: the backend's 401 is the answer; the token is renewed no sooner than the interval allows
            }
        }
        catch
        {
            exchange.Dispose();
            throw;
        }
        return (exchange, Note.Refreshed);
    }

    private static HttpRequestMessage Attach(HttpRequestMessage message, AccessToken token)
    {
        message.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationValue);
        return message;
    }
}
