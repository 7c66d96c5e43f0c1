using ServiceNodeInvoker.Settings;

namespace ServiceNodeInvoker.Profiles;

/// <summary>How the invoker authenticates to a profile's token endpoint (RFC 6749 §2.3, RFC 8705, RFC 7523).</summary>
public enum TokenClientAuthentication
{
    /// <summary>RFC 8705 <c>tls_client_auth</c>: the profile's client certificate (PKI-issued; the server checks its subject) authenticates the client.</summary>
    TlsClientAuth,

    /// <summary>RFC 8705 <c>self_signed_tls_client_auth</c>: the profile's client certificate, registered with the server by its key or thumbprint.</summary>
    SelfSignedTlsClientAuth,

    /// <summary>RFC 7523 <c>private_key_jwt</c>: a short-lived JWT signed with the client certificate's key (<c>x5t#S256</c> in its header).</summary>
    PrivateKeyJwt,

    /// <summary>RFC 6749 <c>client_secret_basic</c>: HTTP Basic with the client id and <see cref="TokenOptions.ClientSecret"/>.</summary>
    ClientSecretBasic,
}

/// <summary>Where a secret comes from.</summary>
public enum SecretSourceKind
{
    /// <summary>The setting's own <see cref="SecretSourceOptions.Value"/> (an app setting, best a Key Vault reference).</summary>
    Setting,

    /// <summary>A Key Vault secret, read with the app's managed identity.</summary>
    KeyVault,
}

/// <summary>A secret: a setting's value, or a Key Vault secret (<c>Source</c>, then <c>Value</c> or <c>VaultUri</c> + <c>Name</c>).</summary>
public sealed class SecretSourceOptions
{
    /// <summary>Which kind of source this is.</summary>
    public SecretSourceKind? Source { get; set; }

    /// <summary>Setting: the secret itself.</summary>
    [Setting(Secret = true)]
    public string? Value { get; set; }

    /// <summary>KeyVault: the vault's https URI.</summary>
    public Uri? VaultUri { get; set; }

    /// <summary>KeyVault: the secret's name in the vault.</summary>
    public string? Name { get; set; }

    /// <summary>KeyVault: a fixed version (default: the current one, read on every token request).</summary>
    public string? Version { get; set; }

    /// <summary>A section whose settings are all empty counts as absent.</summary>
    public static bool IsUnset(SecretSourceOptions? o) =>
        o is null || (o.Source is null && string.IsNullOrEmpty(o.Value) && o.VaultUri is null && string.IsNullOrWhiteSpace(o.Name)
                      && string.IsNullOrWhiteSpace(o.Version));
}

/// <summary>
/// A profile's OAuth 2.0 token source (<c>Invoker:Profiles:&lt;name&gt;:Token</c>): the invoker gets an access token with the
/// client credentials grant, over the profile's own mutual-TLS transport, and sends it to the backend as
/// <c>Authorization: Bearer</c>. See docs/oauth-mtls.md.
/// </summary>
public sealed class TokenOptions
{
    /// <summary>
    /// The token endpoint: an https URL on a host:port of its own, in no profile's Hosts (callers can never reach it);
    /// reached with the profile's certificate, trust and address policy. Several profiles may share one.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>The client id registered with the authorization server.</summary>
    public string? ClientId { get; set; }

    /// <summary>Scopes asked for (sent space-separated as <c>scope</c>); none: the server's default.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>Sent as the <c>audience</c> parameter, for servers that want one.</summary>
    public string? Audience { get; set; }

    /// <summary>Sent as the RFC 8707 <c>resource</c> parameter: an absolute URI.</summary>
    public string? Resource { get; set; }

    /// <summary>How the invoker authenticates to the token endpoint.</summary>
    public TokenClientAuthentication? ClientAuthentication { get; set; }

    /// <summary>ClientSecretBasic only: the client secret.</summary>
    [Setting(Secret = true)]
    public SecretSourceOptions? ClientSecret { get; set; }

    /// <summary>A section whose settings are all empty (as app settings often leave them) counts as absent.</summary>
    public static bool IsUnset(TokenOptions? o) =>
        o is null || (string.IsNullOrWhiteSpace(o.Endpoint) && string.IsNullOrWhiteSpace(o.ClientId) && o.Scopes.All(string.IsNullOrWhiteSpace)
                      && string.IsNullOrWhiteSpace(o.Audience) && string.IsNullOrWhiteSpace(o.Resource) && o.ClientAuthentication is null
                      && SecretSourceOptions.IsUnset(o.ClientSecret));
}

/// <summary>A validated token source: settings only, parsed. The tokens themselves are the token store's concern.</summary>
internal sealed record ProfileToken(Uri Endpoint, string ClientId, IReadOnlyList<string> Scopes, string? Audience, string? Resource,
    TokenClientAuthentication ClientAuthentication, SecretSourceOptions? ClientSecret)
{
    /// <summary>The wire name of the client authentication method (RFC 8705, RFC 7523, RFC 6749).</summary>
    public string MethodName => ClientAuthentication switch
    {
        TokenClientAuthentication.TlsClientAuth => "tls_client_auth",
        TokenClientAuthentication.SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        TokenClientAuthentication.PrivateKeyJwt => "private_key_jwt",
        _ => "client_secret_basic",
    };

    /// <summary>The endpoint as logs and errors name it: scheme, host, port and path, never the query.</summary>
    public string EndpointName => Endpoint.GetLeftPart(UriPartial.Path);

    public static ProfileToken? From(TokenOptions? o) => TokenOptions.IsUnset(o) ? null : new(
        new Uri(o!.Endpoint!, UriKind.Absolute), o.ClientId!.Trim(), o.Scopes.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()).ToArray(),
        string.IsNullOrWhiteSpace(o.Audience) ? null : o.Audience.Trim(), string.IsNullOrWhiteSpace(o.Resource) ? null : o.Resource.Trim(),
        o.ClientAuthentication!.Value, SecretSourceOptions.IsUnset(o.ClientSecret) ? null : o.ClientSecret);
}

/// <summary>The start-up check of a profile's token source.</summary>
internal static class TokenRules
{
    public static void Check(string prefix, ProfileOptions profile, List<string> problems)
    {
        var o = profile.Token;
        if (TokenOptions.IsUnset(o))
        {
            return;
        }
        var setting = $"{prefix}:Token";
        if (string.IsNullOrWhiteSpace(o!.Endpoint))
        {
            problems.Add($"{setting}:Endpoint: is missing: the token endpoint's https URL.");
        }
        else if (!Uri.TryCreate(o.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme != Uri.UriSchemeHttps || endpoint.IdnHost.Length == 0)
        {
            problems.Add($"{setting}:Endpoint: {ConfigurationSchema.HttpsUrlProblem(o.Endpoint)}; it must be an absolute https URL (https://host[:port]/path).");
        }
        else if (endpoint.Fragment.Length > 0 || endpoint.UserInfo.Length > 0 || o.Endpoint.Contains('\\'))
        {
            problems.Add($"{setting}:Endpoint: must have no fragment, user or backslash.");
        }
        if (string.IsNullOrWhiteSpace(o.ClientId))
        {
            problems.Add($"{setting}:ClientId: is missing: the client id registered with the authorization server.");
        }
        for (var i = 0; i < o.Scopes.Count; i++)
        {
            var scope = o.Scopes[i].Trim();
            if (scope.Length > 0 && scope.Any(c => c is < '!' or > '~' or '"' or '\\'))
            {
                problems.Add($"{setting}:Scopes:{i}: '{ConfigurationSchema.Shorten(scope)}' is not one scope (RFC 6749 §3.3: visible ASCII without spaces, '\"' or '\\'; list each scope on its own index).");
            }
        }
        if (!string.IsNullOrWhiteSpace(o.Resource) && (!Uri.TryCreate(o.Resource.Trim(), UriKind.Absolute, out var resource) || resource.Fragment.Length > 0))
        {
            problems.Add($"{setting}:Resource: '{ConfigurationSchema.Shorten(o.Resource)}' is not an absolute URI without a fragment (RFC 8707).");
        }
        var hasClientCertificate = !CertificateSourceOptions.IsUnset(profile.ClientCertificate);
        var hasSecret = !SecretSourceOptions.IsUnset(o.ClientSecret);
        switch (o.ClientAuthentication)
        {
            case null:
                problems.Add($"{setting}:ClientAuthentication: is missing: use TlsClientAuth, SelfSignedTlsClientAuth, PrivateKeyJwt or ClientSecretBasic.");
                break;
            case TokenClientAuthentication.ClientSecretBasic:
                if (!hasSecret)
                {
                    problems.Add($"{setting}:ClientSecret: is missing: ClientSecretBasic needs the client secret (Source Setting with Value, or KeyVault with VaultUri and Name).");
                }
                else
                {
                    CheckSecret(o.ClientSecret!, $"{setting}:ClientSecret", problems);
                }
                break;
            default:
                if (!hasClientCertificate)
                {
                    problems.Add($"{setting}:ClientAuthentication: {o.ClientAuthentication} authenticates with the profile's client certificate, " +
                        $"and the profile has none: set {prefix}:ClientCertificate.");
                }
                if (hasSecret)
                {
                    problems.Add($"{setting}:ClientSecret: is only used with ClientSecretBasic; remove it (the client authenticates with its certificate).");
                }
                break;
        }
    }

    private static void CheckSecret(SecretSourceOptions secret, string setting, List<string> problems)
    {
        switch (secret.Source)
        {
            case null:
                problems.Add($"{setting}:Source: is missing: use Setting (with Value) or KeyVault (with VaultUri and Name).");
                break;
            case SecretSourceKind.Setting:
                if (string.IsNullOrEmpty(secret.Value))
                {
                    problems.Add($"{setting}:Value: is missing: the client secret (best an app setting that is a Key Vault reference).");
                }
                break;
            case SecretSourceKind.KeyVault:
                if (secret.VaultUri is null || !secret.VaultUri.IsAbsoluteUri || secret.VaultUri.Scheme != Uri.UriSchemeHttps || secret.VaultUri.Host.Length == 0)
                {
                    problems.Add($"{setting}:VaultUri: must be the vault's https URI, such as https://my-vault.vault.azure.net/.");
                }
                if (string.IsNullOrWhiteSpace(secret.Name))
                {
                    problems.Add($"{setting}:Name: is missing: the secret's name in the vault.");
                }
                if (!string.IsNullOrEmpty(secret.Value))
                {
                    problems.Add($"{setting}:Value: is set as well as KeyVault: use one source (its value is not shown).");
                }
                break;
        }
    }
}
