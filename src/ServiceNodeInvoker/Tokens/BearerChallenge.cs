using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Tokens;

/// <summary>RFC 6750 §3: the backend's <c>WWW-Authenticate: Bearer error="invalid_token"</c> on a 401 — the token is refused (expired early, revoked, bound to another certificate).</summary>
internal static partial class BearerChallenge
{
    /// <summary>The longest WWW-Authenticate value read: the pattern's cost grows with the length, and a hostile backend chooses it.</summary>
    public const int MaxChallengeLength = 1024;

    public static bool IsInvalidToken(HttpResponseMessage response)
    {
        if (response.StatusCode != System.Net.HttpStatusCode.Unauthorized
            || !response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values))
        {
            return false;
        }
        foreach (var value in values)
        {
            if (value.Length > MaxChallengeLength)
            {
                continue; // real challenges are a few hundred characters; a longer one is not read (its 401 is relayed as it is)
            }
            try
            {
                if (InvalidToken().IsMatch(value))
                {
                    return true;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A hostile challenge (thousands of schemes, none with an error): one that cannot be read within the
                // pattern's time limit is not acted on; the backend's 401 is relayed as it is.
            }
        }
        return false;
    }

    // The Bearer challenge, then its error parameter before any other scheme's challenge starts.
    [GeneratedRegex("""(?:^|[\s,])Bearer(?:\s(?:(?!\b(?:Basic|Digest|DPoP|Negotiate|NTLM|Mutual)\s)[^"]|"[^"]*")*?)?\berror\s*=\s*(?:"invalid_token"|invalid_token\b)""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex InvalidToken();
}
