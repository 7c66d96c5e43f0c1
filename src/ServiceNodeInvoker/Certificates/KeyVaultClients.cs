using System.Collections.Concurrent;
using Azure.Core;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Certificates;

/// <summary>One <see cref="SecretClient"/> per vault, all sharing the app's single credential.</summary>
public sealed class KeyVaultClients(TokenCredential credential, SecretClientOptions options)
{
    private readonly ConcurrentDictionary<Uri, SecretClient> _clients = new();

    public SecretClient For(Uri vaultUri) => _clients.GetOrAdd(vaultUri, uri => new SecretClient(uri, credential, options));

    /// <summary>Client options with retries suited to background refresh: a few, short, and 429-aware (the SDK honours Retry-After).</summary>
    public static SecretClientOptions DefaultOptions()
    {
        var options = new SecretClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromSeconds(1);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(10);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }
}
