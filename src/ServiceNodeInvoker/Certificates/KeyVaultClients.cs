using System.Collections.Concurrent;
using Azure.Core;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Certificates;

/// <summary>One <see cref="SecretClient"/> and one <see cref="CertificateClient"/> per vault, all sharing the app's single credential.</summary>
internal sealed class KeyVaultClients(TokenCredential credential, SecretClientOptions options, CertificateClientOptions certificateOptions)
{
    private readonly ConcurrentDictionary<Uri, SecretClient> _clients = new();
    private readonly ConcurrentDictionary<Uri, CertificateClient> _certificates = new();

    public SecretClient For(Uri vaultUri) => _clients.GetOrAdd(vaultUri, uri => new SecretClient(uri, credential, options));

    public CertificateClient CertificatesFor(Uri vaultUri) => _certificates.GetOrAdd(vaultUri, uri => new CertificateClient(uri, credential, certificateOptions));

    /// <summary>Secret client options with retries suited to background refresh: a few, short, and 429-aware (the SDK honours Retry-After).</summary>
    public static SecretClientOptions DefaultOptions() => WithRefreshRetries(new SecretClientOptions());

    /// <summary>Certificate client options with the same retries.</summary>
    public static CertificateClientOptions DefaultCertificateOptions() => WithRefreshRetries(new CertificateClientOptions());

    private static T WithRefreshRetries<T>(T options) where T : ClientOptions
    {
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromSeconds(1);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(10);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }
}
