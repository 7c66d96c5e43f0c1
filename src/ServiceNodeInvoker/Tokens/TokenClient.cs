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
internal sealed class TokenClient(TransportPool transports, ClientSecretReader secrets, TimeProvider time)
{
    /// <summary>The most a token request may take (the profile's timeout when shorter).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>The largest token response read; a token endpoint's answer is a few KiB.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    public async Task<AccessToken> RequestAsync(TlsProfile profile, ProfileMaterial material, CancellationToken cancellationToken)
    {
        var settings = profile.Token ?? throw new InvalidOperationException($"profile '{profile.Name}' has no token source");
        var wait = profile.Timeout < MaxWait ? profile.Timeout : MaxWait;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        HttpRequestMessage built;
        try
        {
            built = await BuildAsync(settings, material, timeout.Token);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Only the client secret's read from Key Vault waits while the request is built.
            throw new TokenRequestException($"The client secret could not be read within {wait.TotalSeconds:0} s: Key Vault did not answer in time, " +
                $"so no token was asked for from {settings.EndpointName}.", FailureCauses.TokenClientCredential, inner: e);
        }
        using var message = built;
        var lease = transports.Acquire(profile, material);
        try
        {
            using var response = await lease.Transport.Invoker.SendAsync(message, timeout.Token);
            var body = await ReadBoundedAsync(response, timeout.Token);
            return Read(settings, response, body, material);
        }
        catch (TokenRequestException)
        {
            throw;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var timedOut = timeout.IsCancellationRequested;
            var diagnosis = FailureClassifier.Diagnose(timedOut && e is OperationCanceledException ? null : e,
                new FailureClassifier.Evidence(HostKey.FromUri(settings.Endpoint), profile, material.Client is not null, timedOut ? wait : null, WireWitness.Of(message)));
            throw new TokenRequestException($"The token endpoint {settings.EndpointName} could not be asked for a token: {diagnosis.Text}", diagnosis.Cause, inner: e);
        }
        finally
        {
            lease.Dispose();
        }
    }

    private async Task<HttpRequestMessage> BuildAsync(ProfileToken settings, ProfileMaterial material, CancellationToken token)
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
                message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pair)));
                break;
            case TokenClientAuthentication.PrivateKeyJwt:
                form.Add(new("client_id", settings.ClientId));
                form.Add(new("client_assertion_type", ClientAssertion.Type));
                form.Add(new("client_assertion", ClientAssertion.Create(material.Client!.Leaf, settings.ClientId, settings.EndpointName, time.GetUtcNow())));
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

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken token)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(token);
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, token)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxResponseBytes)
            {
                throw new TokenRequestException($"The token endpoint answered {(int)response.StatusCode} with a body larger than {MaxResponseBytes} bytes: " +
                    "it is not a token response.", FailureCauses.TokenResponseInvalid);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>RFC 6749 §5.1 and §5.2, and what the answer was when it is neither.</summary>
    private AccessToken Read(ProfileToken settings, HttpResponseMessage response, byte[] body, ProfileMaterial material)
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
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} with a body that is not a JSON object ({mediaType}, {body.Length} bytes): " +
                    "it is not a token response. Check Token:Endpoint.", FailureCauses.TokenResponseInvalid);
            }
            if (!json.TryGetProperty("access_token", out var value) || value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } accessToken)
            {
                throw new TokenRequestException($"The token endpoint {endpoint} answered {status} without an access_token.", FailureCauses.TokenResponseInvalid);
            }
            var tokenType = json.TryGetProperty("token_type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
            if (tokenType is not null && !tokenType.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                throw new TokenRequestException($"The token endpoint {endpoint} issued a token of type '{Shown(tokenType, 32)}', not Bearer: " +
                    "only Bearer tokens (RFC 6750; certificate-bound per RFC 8705) are sent.", FailureCauses.TokenResponseInvalid);
            }
            var now = time.GetUtcNow();
            var lifetime = ExpiresIn(json);
            var scopes = json.TryGetProperty("scope", out var scope) && scope.ValueKind == JsonValueKind.String
                ? scope.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                : settings.Scopes.ToArray();
            if (lifetime is { } given && given <= TimeSpan.Zero)
            {
                throw new TokenRequestException($"The token endpoint {endpoint} issued a token that expires at once (expires_in {given.TotalSeconds:0}).", FailureCauses.TokenResponseInvalid);
            }
            return new AccessToken(accessToken, material.Client?.ThumbprintSha256 ?? "", now, now + (lifetime ?? AccessToken.AssumedLifetime), scopes, lifetime is not null);
        }
        if (isObject && json.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
        {
            var code = Shown(error.GetString()!, 64);
            var description = json.TryGetProperty("error_description", out var d) && d.ValueKind == JsonValueKind.String ? $" (\"{Shown(d.GetString()!, 300)}\")" : "";
            var uri = json.TryGetProperty("error_uri", out var u) && u.ValueKind == JsonValueKind.String ? $"; see {Shown(u.GetString()!, 200)}" : "";
            throw new TokenRequestException($"The token endpoint {endpoint} refused the token request with {status} {code}{description}{uri}.{Hint(code, settings)}",
                FailureCauses.TokenEndpointError, code);
        }
        throw new TokenRequestException($"The token endpoint {endpoint} answered {status} ({mediaType}, {body.Length} bytes) with no OAuth error: " +
            "it is not answering as a token endpoint (check Token:Endpoint), or it is failing.", FailureCauses.TokenResponseInvalid);
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

    private static string Shown(string text, int max) => LogText.Escape(text.Length > max ? text[..max] + "…" : text);
}
