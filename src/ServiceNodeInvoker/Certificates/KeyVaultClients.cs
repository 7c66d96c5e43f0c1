using System.Collections.Concurrent;
using Azure.Core;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Certificates;

/// <summary>One <see cref="SecretClient"/> and one <see cref="CertificateClient"/> per vault, all sharing the app's single credential.</summary>
internal sealed class KeyVaultClients(TokenCredential credential, SecretClientOptions options, CertificateClientOptions certificateOptions, TimeProvider? time = null)
{
    private readonly ConcurrentDictionary<Uri, SecretClient> _clients = new();
    private readonly ConcurrentDictionary<Uri, CertificateClient> _certificates = new();
    private readonly ConcurrentDictionary<Uri, DependencyGate> _gates = new();

    /// <summary>
    /// A vault as one instance sees it: at most 2 reads in flight (a cold start of many profiles queues behind them for a few
    /// round trips), and after a 429 every read of every profile waits out the vault's Retry-After plus a spread that grows
    /// while the vault keeps refusing (<see cref="LoadBackoff"/>); no spacing after it.
    /// </summary>
    public static readonly DependencyGateOptions GateOptions = new("Key Vault", MaxInFlight: 2, LoadBackoff.Delay);

    public SecretClient For(Uri vaultUri) => _clients.GetOrAdd(vaultUri, uri => new SecretClient(uri, credential, options));

    public CertificateClient CertificatesFor(Uri vaultUri) => _certificates.GetOrAdd(vaultUri, uri => new CertificateClient(uri, credential, certificateOptions));

    /// <summary>This instance's way into a vault, shared by every certificate read from it (see <see cref="GateOptions"/>).</summary>
    public DependencyGate GateFor(Uri vaultUri) => _gates.GetOrAdd(vaultUri, _ => new DependencyGate(GateOptions, time ?? TimeProvider.System));

    /// <summary>Secret client options without the SDK's own retries: the certificate cache owns them (see <see cref="WithoutRetries"/>).</summary>
    public static SecretClientOptions DefaultOptions() => WithoutRetries(new SecretClientOptions());

    /// <summary>Certificate client options, the same way.</summary>
    public static CertificateClientOptions DefaultCertificateOptions() => WithoutRetries(new CertificateClientOptions());

    /// <summary>
    /// No retries inside the SDK. Its retry policy (Azure.Core: 3 retries by default, 0.8 s exponential, Retry-After honoured
    /// as a floor) knows neither the deadline of the invocations waiting for the certificate, nor that other profiles of this
    /// instance are being refused by the same vault, and it multiplies with any retry above it: with 2 SDK retries, each
    /// failed load cost 3 GETs while its callers had already been answered 503. CertificateCache retries while a caller
    /// waits, the vault's gate makes one 429 pause every read of the vault: one retry loop, with jitter, that can stop in time.
    /// </summary>
    private static T WithoutRetries<T>(T options) where T : ClientOptions
    {
        options.Retry.MaxRetries = 0;
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }
}
