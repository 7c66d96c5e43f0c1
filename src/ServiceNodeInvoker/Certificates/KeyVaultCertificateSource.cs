using System.Security.Cryptography.X509Certificates;
using Azure;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// A Key Vault certificate, read through its secret: DownloadCertificate drops the chain, the secret
/// holds all of it (PKCS#12 or PEM, as the certificate's policy says).
/// </summary>
public sealed class KeyVaultCertificateSource(SecretClient client, string name, string? version, CertificateRole role) : ICertificateSource
{
    public const string Pkcs12ContentType = "application/x-pkcs12";
    public const string PemContentType = "application/x-pem-file";

    public string Description => $"Key Vault {client.VaultUri.Host}, certificate '{name}'{(version is null ? "" : $" version {version}")}";

    public string Location => client.VaultUri.ToString();

    public async Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken)
    {
        KeyVaultSecret secret;
        try
        {
            secret = (await client.GetSecretAsync(name, version, cancellationToken)).Value;
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
        return new LoadedCertificates(Read(secret), secret.Properties.Version);
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
                    return $"Key Vault {host} could not be reached: {Transport.BackendConnector.Describe(socket.SocketErrorCode)}. " +
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
