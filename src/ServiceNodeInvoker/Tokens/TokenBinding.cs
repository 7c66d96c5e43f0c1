using System.Buffers.Text;
using System.Text.Json;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// What the token says about its binding, for the probe: a JWT access token's <c>cnf.x5t#S256</c> (RFC 8705 §3.1)
/// against the certificate it was obtained with. An opaque token cannot be read: the probe says so, and nothing else.
/// Only the confirmation claim is read; the token is not validated (the backend does that) and never shown.
/// </summary>
internal static class TokenBinding
{
    public enum Kind { Bound, BoundToAnother, NotBound, Opaque }

    public static Kind Of(AccessToken token)
    {
        var parts = token.Value.Split('.');
        if (parts.Length != 3)
        {
            return Kind.Opaque;
        }
        try
        {
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            if (claims.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Kind.Opaque;
            }
            if (!claims.RootElement.TryGetProperty("cnf", out var cnf) || cnf.ValueKind != JsonValueKind.Object
                || !cnf.TryGetProperty("x5t#S256", out var x5t) || x5t.ValueKind != JsonValueKind.String)
            {
                return Kind.NotBound;
            }
            var ours = token.BoundTo.Length == 0 ? null : Base64Url.EncodeToString(Convert.FromHexString(token.BoundTo));
            return x5t.GetString() == ours ? Kind.Bound : Kind.BoundToAnother;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return Kind.Opaque;
        }
    }

    public static string Describe(Kind kind) => kind switch
    {
        Kind.Bound => "It is a JWT bound to our client certificate (cnf x5t#S256): the backend accepts it only over a connection that presents the certificate.",
        Kind.BoundToAnother => "It is a JWT bound to another certificate than ours (cnf x5t#S256 differs): a backend that checks the binding will refuse it. " +
            "The server may bind to the certificate registered for the client rather than the one presented.",
        Kind.NotBound => "It is a JWT without a certificate binding (no cnf x5t#S256): the server did not bind it to our certificate, which RFC 8705 backends require.",
        _ => "It is opaque (not a JWT): its binding cannot be read here; the backend checks it.",
    };
}
