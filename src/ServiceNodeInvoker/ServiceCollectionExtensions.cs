using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Probe;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers the invoker from the <c>Invoker</c> configuration section. Both hosts call this.</summary>
    /// <param name="host">Functions: the host checks function keys, so key-only callers need no API key here.</param>
    /// <param name="consoleTelemetry">Also print traces to the console (the demo).</param>
    public static IServiceCollection AddServiceNodeInvoker(this IServiceCollection services, IConfiguration configuration,
        InvokerHostKind host = InvokerHostKind.Standalone, bool consoleTelemetry = false)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<InvokerTelemetry>();
        // One credential for the app: Key Vault and telemetry export share it.
        var credential = new Lazy<TokenCredential>(() => AzureCredentialFactory.Create(configuration));
        services.AddInvokerTelemetry(configuration, () => credential.Value, consoleTelemetry);
        services.TryAddSingleton(_ =>
            configuration.GetSection(InvokerOptions.SectionName).Get<InvokerOptions>() ?? new InvokerOptions());
        services.TryAddSingleton<TokenCredential>(_ => credential.Value);
        services.TryAddSingleton(_ => KeyVaultClients.DefaultOptions());
        services.TryAddSingleton(sp => new KeyVaultClients(sp.GetRequiredService<TokenCredential>(), sp.GetRequiredService<SecretClientOptions>()));
        services.TryAddSingleton(sp => new CertificateSourceFactory(
            sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory,
            () => sp.GetRequiredService<KeyVaultClients>()));
        services.TryAddSingleton<ProfileCatalog>(sp =>
            new ProfileCatalog(sp.GetRequiredService<InvokerOptions>(), sp.GetRequiredService<CertificateSourceFactory>()));
        services.TryAddSingleton<CertificateStore>();
        services.TryAddSingleton(sp => new AddressPolicy(sp.GetRequiredService<InvokerOptions>().AllowLoopback));
        services.TryAddSingleton<HostResolver>();
        services.TryAddSingleton<TransportPool>();
        services.TryAddSingleton<Invoker>();
        services.TryAddSingleton<InvokeEndpoint>();
        services.TryAddSingleton<HealthEndpoint>();
        services.TryAddSingleton<MutualTlsProbe>();
        services.TryAddSingleton<ProbeEndpoint>();
        services.TryAddSingleton<ApiKeyAuthenticator>();
        services.TryAddSingleton<CallerCertificates>();
        services.TryAddSingleton<CallerGrants>();
        services.TryAddSingleton(sp => new CallerAuthenticator(sp.GetRequiredService<InvokerOptions>(),
            sp.GetRequiredService<ApiKeyAuthenticator>(), sp.GetRequiredService<CallerCertificates>(), host));
        services.AddHostedService<CertificateRefreshService>();
        return services;
    }
}
