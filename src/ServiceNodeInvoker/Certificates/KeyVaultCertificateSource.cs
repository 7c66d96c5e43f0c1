using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using System.Security.Cryptography.X509Certificates;
using Azure;
using Azure.Identity;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// A Key Vault certificate, resolved through the certificate API (current or pinned version, its
/// validity, whether it is enabled, its renewal policy: no key material moves) and read through its
/// secret only when that version changed. The secret is read because it is the only form that carries
/// the chain: DownloadCertificate returns the leaf alone. A name that is no certificate (a PEM secret of
/// CA certificates) is read as a plain secret. A steady-state refresh costs one certificate GET.
/// </summary>
internal sealed class KeyVaultCertificateSource(SecretClient client, CertificateClient certificates, string name, string? version, CertificateRole role)
    : ICertificateSource
{
    private LoadedCertificates? _loaded;
    private bool _plainSecret;

    public const string Pkcs12ContentType = "application/x-pkcs12";
    public const string PemContentType = "application/x-pem-file";

    public string Description => $"Key Vault {client.VaultUri.Host}, certificate '{name}'{(version is null ? "" : $" version {version}")}";

    public string Location => client.VaultUri.ToString();

    public async Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            VaultView? view = null;
            if (!_plainSecret)
            {
                try
                {
                    view = await ViewAsync(cancellationToken);
                }
                catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode == "CertificateNotFound")
                {
                    _plainSecret = true; // a PEM secret of CA certificates (or a certificate stored as a plain secret)
                }
            }
            if (view is not null && _loaded is { } loaded && loaded.Version == view.Version)
            {
                return loaded with { Vault = view }; // same version: no key material moves
            }
            if (view?.Problem(DateTimeOffset.UtcNow) is { } problem)
            {
                // A new current version the vault itself says is unusable: not worth its key material.
                throw new CertificateLoadException($"the current {problem}");
            }
            var secret = await ReadSecretAsync(view?.Version ?? version, cancellationToken);
            return _loaded = new LoadedCertificates(Read(secret), secret.Properties.Version) { Vault = view };
        }
        catch (RequestFailedException e)
        {
            throw new CertificateLoadException(Explain(e), e, RetryAfter(e));
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is RequestFailedException))
        {
            // The SDK's retries ran out: every attempt failed, the last one says how.
            var last = (RequestFailedException)e.InnerExceptions[^1];
            throw new CertificateLoadException($"{Explain(last)}; {e.InnerExceptions.Count} attempts", e, RetryAfter(last));
        }
        catch (CredentialUnavailableException e)
        {
            throw new CertificateLoadException($"no Azure credential is available ({FirstLine(e.Message)}); locally, sign in with 'az login'", e, null);
        }
        catch (AuthenticationFailedException e)
        {
            throw new CertificateLoadException(
                $"no token for Key Vault could be obtained ({FirstLine(e.Message)}); locally, sign in with 'az login'; " +
                "in Azure, check the managed identity and AZURE_CLIENT_ID", e, null);
        }
    }

    /// <summary>The vault's own view of the certificate (its metadata only), from the certificate API.</summary>
    private async Task<VaultView> ViewAsync(CancellationToken token)
    {
        try
        {
            if (version is not null)
            {
                var pinned = (await certificates.GetCertificateVersionAsync(name, version, token)).Value;
                return VaultView.From(pinned.Properties, "pinned version: renewal does not apply");
            }
            var current = (await certificates.GetCertificateAsync(name, token)).Value;
            return VaultView.From(current.Properties, VaultView.RenewalOf(current.Policy));
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            throw new RequestFailedException(403, $"the app's identity may not read certificates in Key Vault {client.VaultUri.Host} (403 {e.ErrorCode}): " +
                "grant it the 'Key Vault Certificate User' role on the vault", "CertificateForbidden", e);
        }
    }

    private async Task<KeyVaultSecret> ReadSecretAsync(string? secretVersion, CancellationToken token)
    {
        try
        {
            return (await client.GetSecretAsync(name, secretVersion, token)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            throw new RequestFailedException(403, $"the app's identity may not read secrets in Key Vault {client.VaultUri.Host} (403 {e.ErrorCode}): " +
                "grant it the 'Key Vault Secrets User' role on the vault (RBAC mode), or check that the certificate is enabled", "SecretForbidden", e);
        }
    }

    private X509Certificate2Collection Read(KeyVaultSecret secret)
    {
        var contentType = secret.Properties.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        switch (contentType)
        {
            case Pkcs12ContentType:
                byte[] bytes;
                try
                {
                    bytes = Convert.FromBase64String(secret.Value);
                }
                catch (FormatException e)
                {
                    throw new CertificateLoadException($"the secret '{name}' says PKCS#12 but its value is not base64", e);
                }
                return role == CertificateRole.Client
                    ? CertificateReader.ReadPkcs12(bytes, password: null)
                    : CertificateReader.ReadCertificates(bytes, password: null);
            case PemContentType:
                return role == CertificateRole.Client
                    ? CertificateReader.ReadPem(secret.Value, secret.Value, password: null)
                    : CertificateReader.ReadCertificates(System.Text.Encoding.ASCII.GetBytes(secret.Value), password: null);
            default:
                throw new CertificateLoadException(
                    $"the secret '{name}' has content type '{secret.Properties.ContentType ?? "(none)"}', not {Pkcs12ContentType} or " +
                    $"{PemContentType}: import the certificate with 'az keyvault certificate import' rather than storing a plain secret");
        }
    }

    private string Explain(RequestFailedException e) => e.Status switch
    {
        401 => $"Key Vault {client.VaultUri.Host} refused the app's token (401): check the tenant and the identity",
        403 when e.ErrorCode is "CertificateForbidden" or "SecretForbidden" => e.Message,
        403 => $"the app's identity may not read secrets in Key Vault {client.VaultUri.Host} (403 {e.ErrorCode}): grant it the " +
               "'Key Vault Secrets User' role on the vault (RBAC mode), or check that the certificate is enabled",
        404 => $"Key Vault {client.VaultUri.Host} has no certificate '{name}'{(version is null ? "" : $" version {version}")} (404 {e.ErrorCode})",
        429 => $"Key Vault {client.VaultUri.Host} is throttling requests (429)",
        0 => Unreachable(e),
        >= 500 => $"Key Vault {client.VaultUri.Host} failed ({e.Status} {e.ErrorCode})",
        _ => $"Key Vault {client.VaultUri.Host} answered {e.Status} {e.ErrorCode}",
    };

    /// <summary>No HTTP answer at all: which step failed (name, connect, TLS, timeout) and what to check for it.</summary>
    private string Unreachable(Exception e)
    {
        var host = client.VaultUri.Host;
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData or System.Net.Sockets.SocketError.TryAgain }:
                    return $"Key Vault {host} could not be reached: its name does not resolve (DNS). Check the vault name in VaultUri; " +
                           "behind a private endpoint, check the privatelink.vaultcore.azure.net DNS zone is linked to the VNet";
                case System.Net.Sockets.SocketException socket:
                    return $"Key Vault {host} could not be reached: {SocketErrors.Describe(socket.SocketErrorCode)}. " +
                           "Check firewalls, the vault's network rules and, in a VNet, its private endpoint";
                case System.Security.Authentication.AuthenticationException tls:
                    return $"Key Vault {host} could not be reached: the TLS handshake failed ({FirstLine(tls.Message)}). " +
                           "A proxy or firewall that intercepts TLS would do this";
                case TaskCanceledException or TimeoutException:
                    return $"Key Vault {host} could not be reached: no answer within the network timeout. Check firewalls and the vault's network rules";
            }
        }
        return $"Key Vault {host} could not be reached ({FirstLine(e.InnerException?.Message ?? e.Message)})";
    }

    private static TimeSpan? RetryAfter(RequestFailedException e)
    {
        var response = e.GetRawResponse();
        if (response is null || !response.Headers.TryGetValue("Retry-After", out var value))
        {
            return null;
        }
        if (int.TryParse(value, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }
        return DateTimeOffset.TryParse(value, out var at) ? at - DateTimeOffset.UtcNow : null;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim().TrimEnd('.');
}
