using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Certificates;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// Identifies callers by client certificate: the TLS connection's (standalone host) or Azure's
/// X-ARR-ClientCert header (only when configured as trusted: the front end validates nothing). The
/// certificate must be in its validity period, chain to the configured CA, allow client
/// authentication, and be listed by thumbprint or subject.
/// </summary>
internal sealed class CallerCertificates
{
    public const string ForwardedHeader = "X-ARR-ClientCert";

    /// <summary>The caller CA's key in the certificate store: its setting path.</summary>
    public const string AuthorityKey = "Invoker:Callers:CertificateAuthority";

    /// <summary>The caller CA as an owner of certificates for the store to cache, when caller certificates are on.</summary>
    public static CertificateOwner? AuthorityOwner(CallerOptions options) =>
        options.Mode != CallerMode.KeyOnly && !CertificateSourceOptions.IsUnset(options.CertificateAuthority)
            ? new CertificateOwner(AuthorityKey, "the caller CA", $"The caller CA ({AuthorityKey})", null, options.CertificateAuthority)
            : null;
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    private readonly LiveCallerOptions _options;
    private readonly TimeProvider _time;
    private readonly CertificateCache? _authority;
    private volatile Listed? _listed;

    /// <summary>The callers listed by certificate in the settings in force, looked up by thumbprint and by subject.</summary>
    private sealed record Listed(CallerOptions Of, Dictionary<string, string> ByThumbprint, Dictionary<string, string> BySubject);

    /// <param name="options">Validated: every listed certificate has a thumbprint or a subject. Read as in force at each check.</param>
    /// <param name="store">Holds the caller CA (<see cref="AuthorityOwner"/>), loaded and refreshed like a profile's certificates.</param>
    public CallerCertificates(LiveCallerOptions options, CertificateStore store, TimeProvider time)
    {
        _options = options;
        _time = time;
        _authority = store.Other(AuthorityKey);
    }

    private Listed Callers
    {
        get
        {
            var current = _options.Current;
            var listed = _listed;
            if (listed is null || !ReferenceEquals(listed.Of, current))
            {
                listed = new Listed(current, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase), new Dictionary<string, string>(StringComparer.Ordinal));
                foreach (var (name, certificate) in current.Certificates)
                {
                    if (!string.IsNullOrWhiteSpace(certificate.Thumbprint))
                    {
                        listed.ByThumbprint[SettingParsers.Sha256Hex(certificate.Thumbprint)] = name;
                    }
                    if (!string.IsNullOrWhiteSpace(certificate.Subject))
                    {
                        listed.BySubject[certificate.Subject.Trim()] = name;
                    }
                }
                _listed = listed;
            }
            return listed;
        }
    }

    /// <summary>The intermediates each caller certificate came with on its TLS handshake, for as long as the certificate lives.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<X509Certificate2, X509Certificate2Collection> SentWith = new();

    /// <summary>
    /// Kestrel's ClientCertificateValidation for a listener that asks for caller certificates: accepts every
    /// certificate at the TLS layer (<see cref="IdentifyAsync"/> decides) and keeps the intermediates the
    /// caller sent with it (the request only sees the leaf), so a certificate issued by an intermediate can
    /// be chained to the configured root.
    /// </summary>
    public static bool AcceptAndKeepIntermediates(X509Certificate2 certificate, X509Chain? chain, System.Net.Security.SslPolicyErrors errors)
    {
        if (chain is not null)
        {
            var sent = new X509Certificate2Collection();
            foreach (var extra in chain.ChainPolicy.ExtraStore)
            {
                if (!extra.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                {
                    sent.Add(X509CertificateLoader.LoadCertificate(extra.RawData));
                }
            }
            SentWith.AddOrUpdate(certificate, sent);
        }
        return true;
    }

    /// <summary>The intermediates the caller sent on this connection's TLS handshake (none for a forwarded certificate).</summary>
    public static X509Certificate2Collection? PresentedIntermediates(HttpContext context) =>
        context.Connection.ClientCertificate is { } leaf && SentWith.TryGetValue(leaf, out var sent) ? sent : null;

    /// <summary>The certificate the caller presented, if any, and where it came from.</summary>
    public X509Certificate2? Presented(HttpContext context, out string? problem)
    {
        problem = null;
        if (context.Connection.ClientCertificate is { } tls)
        {
            return tls;
        }
        if (!_options.Current.TrustForwardedCertificate || context.Request.Headers[ForwardedHeader] is not [{ Length: > 0 } forwarded])
        {
            return null;
        }
        try
        {
            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(forwarded));
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            problem = $"the {ForwardedHeader} header does not hold a base64 DER certificate";
            return null;
        }
    }

    /// <summary>The caller's name, or null with the reason it is not accepted.</summary>
    /// <param name="intermediates">What the caller sent with its certificate on the TLS connection, if anything.</param>
    public async Task<(string? Caller, string? Problem)> IdentifyAsync(X509Certificate2 certificate, X509Certificate2Collection? intermediates = null)
    {
        if (_authority is null)
        {
            return (null, "caller certificates are not enabled (Invoker:Callers:Mode is KeyOnly)");
        }
        var now = _time.GetUtcNow();
        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime || certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            return (null, "the client certificate is outside its validity period");
        }
        X509Certificate2Collection roots;
        try
        {
            roots = (await _authority.GetAsync(CancellationToken.None)).TrustedCa!;
        }
        catch (Contract.InvokerException e)
        {
            return (null, $"the caller CA is unavailable: {e.Message}");
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        // The CA setting may hold intermediates too (X-ARR-ClientCert carries the leaf alone); they help build the chain.
        chain.ChainPolicy.ExtraStore.AddRange(roots);
        if (intermediates is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        }
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthentication));
        if (!chain.Build(certificate))
        {
            var status = chain.ChainStatus.Select(s => s.Status).Distinct().ToList();
            var last = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : certificate;
            if (status.Contains(X509ChainStatusFlags.PartialChain) && !Certificates.CertificateFacts.IsSelfIssued(last))
            {
                // X-ARR-ClientCert carries the leaf alone: its issuing intermediate must come from the CA setting.
                return (null, $"the client certificate '{LogText.Quote(certificate.Subject)}' does not chain to the caller CA: its chain stops at '{LogText.Quote(last.Subject)}', " +
                    $"whose issuer '{LogText.Quote(last.Issuer)}' is neither sent by the caller nor in Invoker:Callers:CertificateAuthority. " +
                    "Add that intermediate (or the whole chain) to CertificateAuthority");
            }
            return (null, $"the client certificate does not chain to the caller CA for client authentication ({string.Join(", ", status)})");
        }
        var thumbprint = Convert.ToHexString(SHA256.HashData(certificate.RawData));
        var listed = Callers;
        if (listed.ByThumbprint.TryGetValue(thumbprint, out var caller) || listed.BySubject.TryGetValue(certificate.Subject, out caller))
        {
            return (caller, null);
        }
        return (null, $"the client certificate is valid but not listed under Invoker:Callers:Certificates: list it by " +
                      $"Thumbprint {thumbprint} or Subject '{LogText.Quote(certificate.Subject)}'");
    }
}
