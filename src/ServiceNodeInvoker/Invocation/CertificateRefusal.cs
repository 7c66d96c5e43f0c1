using System.Text;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Invocation;

/// <summary>
/// Servers that refuse a client certificate *after* the TLS handshake, with an HTTP answer rather than
/// a TLS alert. Only exact markers of such pages count, never a status alone: a backend's own 400 or
/// 403 stays the backend's answer.
/// <list type="bullet">
/// <item>nginx, <c>ssl_verify_client on</c>: 400 with <c>&lt;title&gt;400 No required SSL certificate was sent&lt;/title&gt;</c>
/// (none sent) or <c>&lt;title&gt;400 The SSL certificate error&lt;/title&gt;</c> (untrusted, expired, wrong purpose).</item>
/// <item>IIS with detailed errors: 403 pages "HTTP Error 403.7 - Forbidden" (certificate required),
/// 403.13 (revoked), 403.16 (untrusted or invalid), 403.17 (expired or not yet valid). IIS's remote default
/// page says only "403 - Forbidden: Access is denied." and is not recognised.</item>
/// </list>
/// Apache httpd (mod_ssl <c>SSLVerifyClient require</c>), Envoy (<c>require_client_certificate</c>) and
/// HAProxy (<c>verify required</c>) refuse during the handshake, which the classifier already reports;
/// their post-handshake denials (SSLRequire, RBAC, ACLs) are generic 403 pages without a certificate
/// marker and are left as the backend's answer.
/// </summary>
internal partial class CertificateRefusal
{
    /// <summary>How much of a body is inspected: the pages are a few hundred bytes.</summary>
    public const int InspectBytes = 8 * 1024;

    /// <summary>Whether an answer with this status and content type could be a refusal page worth reading.</summary>
    public static bool MayBe(int status, string? mediaType) =>
        MayBeStatus(status) && mediaType is null or "text/html";

    /// <summary>The statuses a refusal page comes with: any other answer is not looked at further.</summary>
    public static bool MayBeStatus(int status) => status is 400 or 403;

    /// <summary>The plain-words reason when the body is a known refusal page, else null.</summary>
    public static string? Recognise(int status, ReadOnlySpan<byte> body)
    {
        var text = Encoding.Latin1.GetString(body[..Math.Min(body.Length, InspectBytes)]);
        if (status == 400 && text.Contains("<title>400 No required SSL certificate was sent</title>", StringComparison.Ordinal))
        {
            return "it requires a client certificate and received none (nginx: \"No required SSL certificate was sent\")";
        }
        if (status == 400 && text.Contains("<title>400 The SSL certificate error</title>", StringComparison.Ordinal))
        {
            return "it refused our client certificate: not issued by a CA it trusts, expired, or not valid for client authentication (nginx: \"The SSL certificate error\")";
        }
        if (status == 403 && IisSubStatus().Match(text) is { Success: true } iis)
        {
            return iis.Groups[1].Value switch
            {
                "7" => "it requires a client certificate and received none (IIS 403.7)",
                "13" => "it refused our client certificate as revoked (IIS 403.13)",
                "16" => "it refused our client certificate as untrusted or invalid (IIS 403.16)",
                _ => "it refused our client certificate as expired or not yet valid (IIS 403.17)",
            };
        }
        return null;
    }

    [GeneratedRegex(@"HTTP Error 403\.(7|13|16|17) - Forbidden")]
    private static partial Regex IisSubStatus();
}
