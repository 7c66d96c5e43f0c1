using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// One client credentials token request (RFC 6749 §4.4) to a profile's token endpoint, over the profile's own pooled
/// mutual-TLS transport: the same client certificate, trust, pins and address policy as its backend calls, so the
/// issued token can be bound to that certificate (RFC 8705 <c>cnf.x5t#S256</c>). The answer is read as RFC 6749 §5.1
/// (a token) or §5.2 (an error); anything else is said in plain words. Nothing secret — the token, the client
/// secret, the assertion — goes into an exception or a log.
/// </summary>
internal sealed class TokenClient(ProfileSender sender, ClientSecretReader secrets, TimeProvider time)
{
    /// <summary>The most a token request may take (the profile's timeout when shorter).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>The largest token response read; a token endpoint's answer is a few KiB.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>
    /// The longest access token accepted: it goes on every backend request's Authorization line, and servers cap a
    /// header line at 8 KiB (nginx's default); Microsoft Entra's tokens are 1–3 KiB.
    /// </summary>
    public const int MaxTokenLength = 8 * 1024;

    /// <summary>The longest <c>scope</c> accepted in a token response (it is logged and shown in health).</summary>
    public const int MaxScopeLength = 1024;

    /// <param name="previous">The token held now, if any: named nowhere either, should the endpoint quote it back.</param>
    public async Task<AccessToken> RequestAsync(TlsProfile profile, ProfileMaterial material, CancellationToken cancellationToken, AccessToken? previous = null)
    {
        var settings = profile.Token ?? throw new InvalidOperationException($"profile '{profile.Name}' has no token source");
        using var deadline = new CallDeadline(profile.Timeout < MaxWait ? profile.Timeout : MaxWait, cancellationToken);
        HttpRequestMessage message;
        var redaction = new Redaction();
        redaction.Add(previous?.Value);
        try
        {
            message = await BuildAsync(settings, material, redaction, deadline.Token);
        }
        catch (OperationCanceledException e) when (deadline.TimedOut)
        {
            // Only the client secret's read from Key Vault waits while the request is built.
            throw new TokenRequestException($"The client secret could not be read within {deadline.Wait.TotalSeconds:0} s: Key Vault did not answer in time, " +
                $"so no token was asked for from {settings.EndpointName}.", FailureCauses.TokenClientCredential, inner: e);
        }
        try
        {
            using var exchange = await sender.SendAsync(profile, material, message, deadline);
            var response = exchange.Response;
            await using var stream = await response.Content.ReadAsStreamAsync(deadline.Token);
            using var body = await BoundedBody.ReadAsync(stream, response.Content.Headers.ContentLength, MaxResponseBytes,
                () => new TokenRequestException($"The token endpoint answered {(int)response.StatusCode} with a body larger than {MaxResponseBytes} bytes: " +
                    "it is not a token response.", FailureCauses.TokenResponseInvalid), deadline.Token);
            return Read(settings, response, body.Memory, material, redaction);
        }
        catch (TokenRequestException)
        {
            throw;
        }
        catch (Exception e) when (!deadline.CallerGone && FailureClassifier.Find<TargetAddressNotAllowedException>(e) is { } blocked)
        {
            // Our own address policy, not the endpoint: nothing was sent.
            throw new TokenRequestException($"The token endpoint {settings.EndpointName} was not called: the address policy refuses it " +
                $"({blocked.Message}).", FailureCauses.TokenAddressNotAllowed, inner: e);
        }
        catch (Exception e) when (!deadline.CallerGone)
        {
            // Failed on the way (SendFailedException, with its evidence) or while the answer's body was read.
            var seen = (e as SendFailedException)?.Evidence ?? sender.EvidenceOf(profile, material, message, deadline);
            var cause = e is SendFailedException failed ? failed.InnerException! : e;
            var diagnosis = FailureClassifier.Diagnose(deadline.TimedOut && cause is OperationCanceledException ? null : cause, seen);
            // The diagnosis may quote what the endpoint sent (an invalid header line): its words, so withheld where they repeat ours.
            throw new TokenRequestException($"The token endpoint {settings.EndpointName} could not be asked for a token: {redaction.Quote(diagnosis.Text, 600)}",
                diagnosis.Cause, inner: e)
            {
                // A refused connection may be an instance of the authorization server restarting: worth one more try.
                // Anything that got an answer (a broken one included) is the endpoint's doing and will not heal in seconds.
                Transient = diagnosis.Cause is FailureCauses.ConnectionRefused,
            };
        }
    }

    private async Task<HttpRequestMessage> BuildAsync(ProfileToken settings, ProfileMaterial material, Redaction redaction, CancellationToken token)
    {
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        var message = new HttpRequestMessage(HttpMethod.Post, settings.Endpoint) { Version = HttpVersion.Version11 };
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        switch (settings.ClientAuthentication)
        {
            case TokenClientAuthentication.ClientSecretBasic:
                var secret = await secrets.ReadAsync(settings.ClientSecret!, token);
                // RFC 6749 §2.3.1: both parts form-encoded before Basic's base64.
                var pair = $"{Uri.EscapeDataString(settings.ClientId)}:{Uri.EscapeDataString(secret)}";
                var basic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pair));
                redaction.Add(secret);
                redaction.Add(Uri.EscapeDataString(secret));
                redaction.Add(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(secret)));
                redaction.Add(Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(secret))); // either case: compared folded
                redaction.Add(basic);
                message.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
                break;
            case TokenClientAuthentication.PrivateKeyJwt:
                form.Add(new("client_id", settings.ClientId));
                form.Add(new("client_assertion_type", ClientAssertion.Type));
                var assertion = ClientAssertion.Create(material.Client!.Leaf, settings.ClientId, settings.EndpointName, time.GetUtcNow());
                redaction.Add(assertion);
                redaction.Add(assertion[(assertion.LastIndexOf('.') + 1)..]); // its signature: what makes it a credential
                form.Add(new("client_assertion", assertion));
                break;
            default:
                // tls_client_auth, self_signed_tls_client_auth: the certificate on the connection authenticates; the id names the client.
                form.Add(new("client_id", settings.ClientId));
                break;
        }
        if (settings.Scopes.Count > 0)
        {
            form.Add(new("scope", string.Join(' ', settings.Scopes)));
        }
        if (settings.Audience is { } audience)
        {
            form.Add(new("audience", audience));
        }
        if (settings.Resource is { } resource)
        {
            form.Add(new("resource", resource));
        }
        message.Content = new FormUrlEncodedContent(form);
        return message;
    }

    /// <summary>RFC 6749 §5.1 and §5.2, and what the answer was when it is neither.</summary>
    private AccessToken Read(ProfileToken settings, HttpResponseMessage response, ReadOnlyMemory<byte> body, ProfileMaterial material, Redaction redaction)
    {
        var status = (int)response.StatusCode;
        var endpoint = settings.EndpointName;
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "no content type";
        JsonElement json = default;
        var isObject = false;
        try
        {
            using var document = JsonDocument.Parse(body);
            json = document.RootElement.Clone();
            isObject = json.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
        }
        if (status is >= 200 and < 300)
        {
            if (!isObject)
            {
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} with a body that is not a JSON object ({redaction.Quote(mediaType, 64)}, {body.Length} bytes): " +
                    "it is not a token response. Check Token:Endpoint.", FailureCauses.TokenResponseInvalid);
            }
            if (!json.TryGetProperty("access_token", out var value) || value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } accessToken)
            {
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} without an access_token.", FailureCauses.TokenResponseInvalid);
            }
            if (TokenProblem(accessToken) is { } wrong)
            {
                // The token goes on the wire in a header line: anything else could add headers or a whole request.
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} with an access_token that cannot be sent: {wrong}. " +
                    "RFC 6750 allows a Bearer token only letters, digits and - . _ ~ + / (then = padding). Nothing was cached or sent; " +
                    "the token endpoint is failing or is not who it should be.", FailureCauses.TokenResponseInvalid);
            }
            redaction.Add(accessToken);
            var tokenType = json.TryGetProperty("token_type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
            if (tokenType is not null && !tokenType.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                throw new TokenRequestException($"The token endpoint {endpoint} issued a token of type '{redaction.Quote(tokenType, 32)}', not Bearer: " +
                    "only Bearer tokens (RFC 6750; certificate-bound per RFC 8705) are sent.", FailureCauses.TokenResponseInvalid);
            }
            var now = time.GetUtcNow();
            var lifetime = ExpiresIn(json);
            var scopes = json.TryGetProperty("scope", out var scope) && scope.ValueKind == JsonValueKind.String
                ? scope.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                : settings.Scopes.ToArray();
            if (scope.ValueKind == JsonValueKind.String && (scope.GetString()!.Length > MaxScopeLength || scopes.Any(s => !IsScopeToken(s) || redaction.Repeats(s))))
            {
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} with a scope that is not a list of RFC 6749 scope tokens " +
                    $"(visible ASCII without '\"' or '\\', separated by spaces, at most {MaxScopeLength} characters, none repeating our credentials). Nothing was cached or sent.",
                    FailureCauses.TokenResponseInvalid);
            }
            if (lifetime is { } given && given <= TimeSpan.Zero)
            {
                throw new TokenRequestException($"The token endpoint {endpoint} issued a token that expires at once (expires_in {given.TotalSeconds:0}).", FailureCauses.TokenResponseInvalid);
            }
            return new AccessToken(accessToken, material.Client?.ThumbprintSha256 ?? "", now, now + (lifetime ?? AccessToken.AssumedLifetime), scopes, lifetime is not null);
        }
        var transient = status is 429 or 502 or 503 or 504;
        var retryAfter = transient ? RetryAfterOf(response, time.GetUtcNow()) : null;
        if (status == 429)
        {
            throw new TokenRequestException($"The token endpoint {endpoint} is throttling our token requests (429 Too Many Requests" +
                (retryAfter is { } after ? $", retry after {after.TotalSeconds:0} s)" : ")") + ": the request is retried while a call waits for a token.",
                FailureCauses.TokenEndpointThrottled) { Transient = true, RetryAfter = retryAfter };
        }
        if (isObject && json.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
        {
            // The endpoint's words are hostile text: what repeats our credentials is withheld, the rest escaped and capped.
            var code = IsErrorCode(error.GetString()!) && !redaction.Repeats(error.GetString()!) ? error.GetString()! : null;
            var shownCode = code ?? $"with an error code that is not one ('{redaction.Quote(error.GetString()!, 64)}')";
            var description = json.TryGetProperty("error_description", out var d) && d.ValueKind == JsonValueKind.String ? $" (\"{redaction.Quote(d.GetString()!, 300)}\")" : "";
            var uri = json.TryGetProperty("error_uri", out var u) && u.ValueKind == JsonValueKind.String ? $"; see {redaction.Quote(u.GetString()!, 200)}" : "";
            throw new TokenRequestException($"The token endpoint {endpoint} refused the token request with {status} {shownCode}{description}{uri}.{Hint(code ?? "", settings)}",
                FailureCauses.TokenEndpointError, code) { Transient = transient, RetryAfter = retryAfter };
        }
        throw new TokenRequestException($"The token endpoint {endpoint} answered {status} ({redaction.Quote(mediaType, 64)}, {body.Length} bytes) with no OAuth error: " +
            "it is not answering as a token endpoint (check Token:Endpoint), or it is failing.", FailureCauses.TokenResponseInvalid) { Transient = transient, RetryAfter = retryAfter };
    }

    /// <summary>The most of a Retry-After we honour: a longer one is beyond any caller's deadline anyway.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(120);

    /// <summary>Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), capped; null when absent or unreadable.</summary>
    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        var after = header?.Delta ?? (header?.Date is { } date ? date - now : null);
        return after is { } a ? TimeSpan.FromTicks(Math.Clamp(a.Ticks, 0, MaxRetryAfter.Ticks)) : null;
    }

    /// <summary>expires_in as a number of seconds (some servers send it as a string).</summary>
    private static TimeSpan? ExpiresIn(JsonElement json)
    {
        if (!json.TryGetProperty("expires_in", out var value))
        {
            return null;
        }
        long seconds;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out seconds)
            || value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out seconds))
        {
            return TimeSpan.FromSeconds(Math.Clamp(seconds, -1, 366L * 24 * 3600));
        }
        return null;
    }

    /// <summary>What the most common refusals mean for this invoker's settings.</summary>
    private static string Hint(string error, ProfileToken settings) => error switch
    {
        "invalid_client" => settings.ClientAuthentication switch
        {
            TokenClientAuthentication.TlsClientAuth => $" The server did not accept client '{Shown(settings.ClientId, 64)}' with our certificate: check that the client is registered for tls_client_auth with the certificate's subject.",
            TokenClientAuthentication.SelfSignedTlsClientAuth => $" The server did not accept client '{Shown(settings.ClientId, 64)}' with our certificate: check that the certificate (or its key) is registered for self_signed_tls_client_auth.",
            TokenClientAuthentication.PrivateKeyJwt => $" The server did not accept our client assertion for '{Shown(settings.ClientId, 64)}': check that the certificate (or its key) is registered for private_key_jwt.",
            _ => $" The server did not accept the client id and secret of '{Shown(settings.ClientId, 64)}': check Token:ClientId and Token:ClientSecret.",
        },
        "invalid_scope" => " Check Token:Scopes against what the client is allowed.",
        "unauthorized_client" => " The client may not use the client credentials grant: the server's registration must allow it.",
        "invalid_target" => " Check Token:Resource.",
        _ => "",
    };

    private static string Shown(string text, int max) => LogText.Quote(text, max);


    /// <summary>Why a token cannot go on the wire, or null: RFC 6750 §2.1 b64token, at most <see cref="MaxTokenLength"/>. Never quotes the token.</summary>
    internal static string? TokenProblem(string token)
    {
        if (token.Length > MaxTokenLength)
        {
            return $"it is {token.Length} characters long, more than the {MaxTokenLength} sent";
        }
        var padding = false;
        for (var i = 0; i < token.Length; i++)
        {
            var c = token[i];
            if (c == '=')
            {
                if (i == 0)
                {
                    return "it starts with '='";
                }
                padding = true;
                continue;
            }
            if (padding)
            {
                return $"a character follows its '=' padding at position {i}";
            }
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '+' or '/'))
            {
                return $"it holds {Describe(c)} at position {i}";
            }
        }
        return null;
    }

    private static string Describe(char c) => c switch
    {
        '\r' => "a carriage return (CR)",
        '\n' => "a line feed (LF)",
        '\0' => "a NUL",
        ' ' => "a space",
        _ when c > 0x7E => $"a non-ASCII character (U+{(int)c:X4})",
        _ when char.IsControl(c) => $"a control character (0x{(int)c:X2})",
        _ => $"'{c}'",
    };

    /// <summary>RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.</summary>
    private static bool IsScopeToken(string scope) => scope.All(c => c is (char)0x21 or >= (char)0x23 and <= (char)0x5B or >= (char)0x5D and <= (char)0x7E);

    /// <summary>RFC 6749 §5.2 error: %x20-21 / %x23-5B / %x5D-7E, and short.</summary>
    private static bool IsErrorCode(string code) =>
        code.Length is > 0 and <= 64 && code.All(c => c is (char)0x20 or (char)0x21 or >= (char)0x23 and <= (char)0x5B or >= (char)0x5D and <= (char)0x7E);

    /// <summary>
    /// The credentials one token request carried (the client secret as sent, form-encoded, in base64 and inside the
    /// Basic value; the assertion and its signature) and the token held: an endpoint that repeats any of them has that
    /// part of its text withheld before it is quoted anywhere (a reply, health, the probe, the log). Whole values are
    /// replaced; beyond that, text whose letters and digits hold any <see cref="Overlap"/> consecutive letters and digits
    /// of one (case, punctuation, spaces and invisible characters ignored) is withheld whole.
    /// </summary>
    private sealed class Redaction
    {
        private const int Overlap = 8;
        private const string Withheld = "[withheld: it repeats our credentials]";
        private readonly List<string> _values = [];
        private readonly List<string> _folded = [];

        public void Add(string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                _values.Add(value);
                _folded.Add(Fold(value));
            }
        }

        /// <summary>Whether the text repeats (a part of) a credential, however spelt.</summary>
        public bool Repeats(string text)
        {
            foreach (var value in _values)
            {
                if (text.Contains(value, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            var folded = Fold(text);
            foreach (var value in _folded)
            {
                for (var at = 0; at + Overlap <= value.Length; at++)
                {
                    if (folded.Contains(value.AsSpan(at, Overlap), StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        /// <summary>The endpoint's text, credentials withheld, then escaped and capped.</summary>
        public string Quote(string text, int max)
        {
            foreach (var value in _values)
            {
                text = text.Replace(value, "[redacted]", StringComparison.Ordinal);
            }
            return Repeats(text) ? Withheld : LogText.Quote(text, max);
        }

        /// <summary>Letters and digits only, upper-cased: what survives a change of case, spacing, punctuation or invisible characters.</summary>
        private static string Fold(string text)
        {
            var folded = new System.Text.StringBuilder(text.Length);
            foreach (var c in text)
            {
                if (char.IsLetterOrDigit(c))
                {
                    folded.Append(char.ToUpperInvariant(c));
                }
            }
            return folded.ToString();
        }
    }
}
