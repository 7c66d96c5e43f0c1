using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Configuration;
using ServiceNodeInvoker.Endpoints;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Probe;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Settings;
using ServiceNodeInvoker.Telemetry;
using ServiceNodeInvoker.Tokens;
using ServiceNodeInvoker.Transport;
using ServiceNodeInvoker.Primitives;
using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServiceNodeInvoker;

/// <summary>Registers the invoker in a host's services.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Registers the invoker from the <c>Invoker</c> configuration section. Both hosts call this.</summary>
    /// <param name="host">Functions: the host checks function keys, so key-only callers need no API key here.</param>
    /// <param name="consoleTelemetry">Also print traces to the console (asked for with --console-telemetry).</param>
    public static IServiceCollection AddServiceNodeInvoker(this IServiceCollection services, IConfiguration configuration,
        InvokerHostKind host = InvokerHostKind.Standalone, bool consoleTelemetry = false)
    {
        // Registration only: nothing starts here. What the first call needs is built by WarmUp when the host starts.
        AddInvokerOptions(services, configuration, host);
        // The first hosted services to start (they start in the order added): certificate loads and the warm-up run in
        // the background from here on, overlapped with the rest of start-up (telemetry, the server) — cold start.
        services.AddHostedService<CertificateRefreshService>();
        services.AddHostedService<WarmUp>();
        // Configuration changes while the host runs: checked as start-up checks them, applied live or refused as a whole.
        services.TryAddSingleton(SettingsFiles.Of(configuration));
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<LiveConfiguration>(sp, configuration));
        services.AddHostedService(sp => sp.GetRequiredService<LiveConfiguration>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<InvokerTelemetry>();
        // One credential for the app: Key Vault and telemetry export share it.
        var inAzure = !string.IsNullOrEmpty(configuration["IDENTITY_ENDPOINT"]) || !string.IsNullOrEmpty(configuration["MSI_ENDPOINT"]);
        services.TryAddSingleton<TokenCredential>(sp => AzureCredentialFactory.Create(
            sp.GetRequiredService<InvokerOptions>().Credential, sp.GetRequiredService<InvokerOptions>().ManagedIdentityClientId, inAzure));
        services.AddInvokerTelemetry(configuration, consoleTelemetry, host);
        services.TryAddSingleton(_ => KeyVaultClients.DefaultOptions());
        services.TryAddSingleton(_ => KeyVaultClients.DefaultCertificateOptions());
        services.TryAddSingleton(sp => new KeyVaultClients(sp.GetRequiredService<TokenCredential>(), sp.GetRequiredService<SecretClientOptions>(),
            sp.GetRequiredService<Azure.Security.KeyVault.Certificates.CertificateClientOptions>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new CertificateSourceFactory(
            sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory,
            () => sp.GetRequiredService<KeyVaultClients>()));
        // Each concern gets its own part of the one options model: nothing below this root reads InvokerOptions.
        services.TryAddSingleton(sp => sp.GetRequiredService<InvokerOptions>().Callers);
        services.TryAddSingleton(sp => new LiveCallerOptions(sp.GetRequiredService<CallerOptions>()));
        services.TryAddSingleton(sp => new ProfileCatalog(sp.GetRequiredService<InvokerOptions>().Profiles));
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<InvokerOptions>();
            return new CertificateStore(sp.GetRequiredService<ProfileCatalog>(),
                new CertificateCacheSettings(options.CertificateRefreshInterval, options.ExpiryWarningDays),
                CallerCertificates.AuthorityOwner(options.Callers) is { } authority ? [authority] : [],
                sp.GetRequiredService<CertificateSourceFactory>(), sp.GetRequiredService<InvokerTelemetry>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>());
        });
        // The expiry watch: the Functions app runs it on a timer (CertificateExpiryWatch), the standalone host as a background service.
        services.TryAddSingleton<TelemetryFlush>();
        services.TryAddSingleton(sp => new ExpiryCheck(sp.GetRequiredService<CertificateStore>(), sp.GetRequiredService<ProfileCatalog>(),
            () => sp.GetRequiredService<KeyVaultClients>(), sp.GetRequiredService<InvokerTelemetry>(), sp.GetRequiredService<TelemetryFlush>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ExpiryCheck>>()));
        services.TryAddSingleton(sp => new CertificateExpiryWatch(sp.GetRequiredService<ExpiryCheck>()));
        if (host == InvokerHostKind.Standalone)
        {
            services.AddHostedService<ExpiryWatchService>();
        }
        services.TryAddSingleton(sp => new AddressPolicy(sp.GetRequiredService<InvokerOptions>().AllowLoopback));
        services.TryAddSingleton<HostResolver>();
        services.TryAddSingleton<BackendConnector>();
        services.TryAddSingleton<IBackendHandlers, MutualTlsHandlers>();
        services.TryAddSingleton<TransportPool>();
        services.TryAddSingleton<ProfileSender>();
        services.TryAddSingleton<AcceptedIssuers>();
        services.TryAddSingleton(sp => new ClientSecretReader(() => sp.GetRequiredService<KeyVaultClients>()));
        services.TryAddSingleton<TokenClient>();
        services.TryAddSingleton<TokenStore>();
        services.TryAddSingleton<InvocationPipeline>();
        services.TryAddSingleton(sp => new ResponseBufferBudget(sp.GetRequiredService<InvokerOptions>().MaxBufferedResponseBytes,
            ResponseBufferBudget.DefaultWait, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new InvokeEndpoint(sp.GetRequiredService<InvocationPipeline>(), sp.GetRequiredService<InvokerOptions>().Limits));
        services.TryAddSingleton(sp => new ForwardEndpoint(sp.GetRequiredService<InvocationPipeline>(), sp.GetRequiredService<ProfileCatalog>(),
            sp.GetRequiredService<InvokerOptions>().Limits));
        // Problem and health replies in readable UTF-8 ("é", "+"), like the envelope.
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        // Backend header values arrive decoded as Latin-1 (obs-text, e.g. filename="résumé.pdf"); passthrough writes them
        // back as the same bytes instead of refusing them with an empty 500.
        services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o =>
            o.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1);
        services.TryAddSingleton<HealthEndpoint>();
        services.TryAddSingleton<MutualTlsProbe>();
        services.TryAddSingleton<ProbeEndpoint>();
        services.TryAddSingleton<AdminAccess>();
        services.TryAddSingleton<ProfilesEndpoint>();
        services.TryAddSingleton<ApiKeyAuthenticator>();
        services.TryAddSingleton<CallerCertificates>();
        services.TryAddSingleton<CallerGrants>();
        services.TryAddSingleton<CallerAuthenticator>();
        services.TryAddSingleton<ConfigurationEndpoint>();
        services.TryAddSingleton(sp => new InvokerApi(sp.GetRequiredService<InvokeEndpoint>(), sp.GetRequiredService<ForwardEndpoint>(),
            sp.GetRequiredService<HealthEndpoint>(), sp.GetRequiredService<ProbeEndpoint>(), sp.GetRequiredService<ProfilesEndpoint>(),
            sp.GetRequiredService<ConfigurationEndpoint>(), sp.GetRequiredService<CallerOptions>(), sp.GetRequiredService<ApiKeyAuthenticator>()));

        return services;
    }

    /// <summary>
    /// The one options model: names and conversions checked against the raw section first (the binder
    /// would drop a profile it cannot convert without a word), then bound strictly, then validated;
    /// <c>ValidateOnStart</c> makes the host refuse to start, listing every problem.
    /// </summary>
    private static void AddInvokerOptions(IServiceCollection services, IConfiguration configuration, InvokerHostKind host)
    {
        services.TryAddSingleton(new InvokerHostInfo(host));
        services.AddOptions<InvokerOptions>()
            .Configure(_ =>
            {
                var section = configuration.GetSection(InvokerOptions.SectionName);
                var problems = ConfigurationSchema.Check(section, typeof(InvokerOptions), out var faulty);
                if (problems.Count > 0)
                {
                    // List the other mistakes too: what binds despite the ones above is checked for meaning as well.
                    problems.AddRange(InvokerOptionsValidator.ProblemsDespiteSchema(section, new InvokerHostInfo(host), faulty));
                    throw new OptionsValidationException(Options.DefaultName, typeof(InvokerOptions), problems);
                }
            })
            // Bound once, for start-up (a Configure, not Bind: Bind would also re-bind on every change of the section, throwing
            // on a bad edit). Changes while the host runs go through LiveConfiguration, which checks them the same way.
            .Configure(o => configuration.GetSection(InvokerOptions.SectionName).Bind(o, binder => binder.ErrorOnUnknownConfiguration = true))
            .PostConfigure(o => ConfigurationCheck.ApplyFallbacks(o, configuration))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<InvokerOptions>>(sp =>
            new InvokerOptionsValidator(sp.GetRequiredService<InvokerHostInfo>(), sp.GetRequiredService<InvokerTelemetry>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<InvokerOptions>>().Value);
    }
}
