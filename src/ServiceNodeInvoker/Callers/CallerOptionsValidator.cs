using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// The meaning of the Invoker:Callers settings: key hashes, caller certificates, the caller CA the mode
/// needs, forwarded certificates on the standalone host, and grants naming known callers and profiles.
/// </summary>
internal static class CallerOptionsValidator
{
    public static void Check(CallerOptions o, InvokerHostKind host, IReadOnlyCollection<string> profiles, List<string> problems)
    {
        var prefix = $"Invoker:Callers";
        foreach (var (caller, hash) in o.ApiKeys)
        {
            if (!SettingParsers.TryParseSha256Hex(hash, out _))
            {
                problems.Add($"{prefix}:ApiKeys:{caller}: must be the SHA-256 of the key in hex (64 characters), not the key itself.");
            }
        }
        foreach (var (admin, hash) in o.AdminKeys)
        {
            if (!SettingParsers.TryParseSha256Hex(hash, out _))
            {
                problems.Add($"{prefix}:AdminKeys:{admin}: must be the SHA-256 of the key in hex (64 characters), not the key itself.");
            }
        }
        foreach (var (caller, certificate) in o.Certificates)
        {
            var setting = $"{prefix}:Certificates:{caller}";
            if (string.IsNullOrWhiteSpace(certificate.Thumbprint) && string.IsNullOrWhiteSpace(certificate.Subject))
            {
                problems.Add($"{setting}: needs a Thumbprint (SHA-256 hex) or a Subject.");
            }
            if (!string.IsNullOrWhiteSpace(certificate.Thumbprint) && !SettingParsers.TryParseSha256Hex(certificate.Thumbprint, out _))
            {
                problems.Add($"{setting}:Thumbprint: is not a SHA-256 thumbprint (64 hex digits; a 40-digit SHA-1 thumbprint is not accepted).");
            }
        }
        if (o.Mode == CallerMode.KeyOnly)
        {
            if (o.Certificates.Count > 0)
            {
                problems.Add($"{prefix}:Certificates: callers are identified by certificate, but {prefix}:Mode is KeyOnly, so they would never be: " +
                             "set Mode to KeyOrCertificate or CertificateRequired, or remove them.");
            }
        }
        else
        {
            if (CertificateSourceOptions.IsUnset(o.CertificateAuthority))
            {
                problems.Add($"{prefix}:CertificateAuthority: is missing: {prefix}:Mode is {o.Mode}, so caller certificates must chain to the root(s) set here.");
            }
            else
            {
                CertificateSourceRules.Check(o.CertificateAuthority, $"{prefix}:CertificateAuthority", CertificateRole.TrustedCa, problems);
            }
            if (o.Certificates.Count == 0)
            {
                problems.Add($"{prefix}:Certificates: is empty: {prefix}:Mode is {o.Mode}, but no caller certificate is listed, so no certificate would be accepted.");
            }
        }
        if (o.TrustForwardedCertificate && host == InvokerHostKind.Standalone && !o.BehindCertificateForwardingFrontEnd)
        {
            problems.Add($"{prefix}:TrustForwardedCertificate: the standalone host would let any caller claim any certificate in the " +
                         $"X-ARR-ClientCert header. Set {prefix}:BehindCertificateForwardingFrontEnd=true only if a front end that sets " +
                         "(and strips) that header is the only way in; otherwise turn TrustForwardedCertificate off.");
        }
        var known = KnownCallers(o);
        foreach (var (caller, granted) in o.Grants)
        {
            if (!known.Contains(caller))
            {
                problems.Add($"{prefix}:Grants:{caller}: no caller is named '{caller}' (callers are the names under {prefix}:ApiKeys and {prefix}:Certificates{SettingSuggestions.Suggest(caller, known)}).");
            }
            for (var i = 0; i < granted.Count; i++)
            {
                if (!profiles.Contains(granted[i], StringComparer.OrdinalIgnoreCase))
                {
                    problems.Add($"{prefix}:Grants:{caller}:{i}: no profile is named '{ConfigurationSchema.Shorten(granted[i])}'{SettingSuggestions.Suggest(granted[i], profiles)}.");
                }
            }
        }
    }

    public static HashSet<string> KnownCallers(CallerOptions o) =>
        new(o.ApiKeys.Keys.Concat(o.Certificates.Keys), StringComparer.OrdinalIgnoreCase);

}
