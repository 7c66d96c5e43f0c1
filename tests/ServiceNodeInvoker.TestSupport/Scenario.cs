namespace ServiceNodeInvoker.TestSupport;

/// <summary>
/// The set-up most tests share — the test PKI, a mutual-TLS backend, an operator's settings for it, and the
/// invoker host — built in one expression and disposed together:
/// <code>
/// await using var scenario = await Scenario.Standard().Backend(pki => pki.StartBackendAsync(server: pki.UntrustedServer)).StartAsync();
/// var (backend, host) = scenario;
/// </code>
/// By default the backend is Kestrel requiring a client certificate that chains to the test root, and the settings
/// are <see cref="ProfileSettings.Standard"/>: profile 'payments' owning the backend, the RSA client PFX with its
/// intermediate, the test root as TrustedCa, and <see cref="InvokerHost.ApiKey"/>.
/// </summary>
public sealed class Scenario : IAsyncDisposable
{
    private Scenario(MutualTlsBackend backend, TempFiles files, InvokerHost host)
    {
        Backend = backend;
        Files = files;
        Host = host;
    }

    public MutualTlsBackend Backend { get; }

    /// <summary>Where the scenario's certificate files live; removed on dispose.</summary>
    public TempFiles Files { get; }

    public InvokerHost Host { get; }

    public static Builder Standard() => new();

    public void Deconstruct(out MutualTlsBackend backend, out InvokerHost host)
    {
        backend = Backend;
        host = Host;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        Files.Dispose();
        await Backend.DisposeAsync();
    }

    /// <summary>What differs between scenarios: the backend, extra settings, the admin key, the host's own set-up.</summary>
    public sealed class Builder
    {
        private Func<TestPki, Task<MutualTlsBackend>> _backend = pki => pki.StartBackendAsync();
        private readonly List<Action<Dictionary<string, string?>, TempFiles, MutualTlsBackend>> _settings = [];
        private Action<WebApplicationBuilder>? _host;

        /// <summary>Another backend than the default (other routes, server certificate, protocols or client root).</summary>
        public Builder Backend(Func<TestPki, Task<MutualTlsBackend>> start)
        {
            _backend = start;
            return this;
        }

        public Builder Setting(string key, string? value) => Settings((settings, _, _) => settings[key] = value);

        /// <summary>Edits the settings once the files and the backend exist.</summary>
        public Builder Settings(Action<Dictionary<string, string?>, TempFiles, MutualTlsBackend> edit)
        {
            _settings.Add(edit);
            return this;
        }

        /// <summary>Adds <see cref="InvokerHost.AdminKey"/> (the probe and the admin endpoints).</summary>
        public Builder WithAdminKey() => Settings((settings, _, _) => InvokerHost.WithAdminKey(settings));

        /// <summary>The host's own set-up (services, Kestrel limits).</summary>
        public Builder Host(Action<WebApplicationBuilder> configure)
        {
            _host = configure;
            return this;
        }

        public async Task<Scenario> StartAsync()
        {
            var backend = await _backend(TestPki.Instance);
            var files = new TempFiles();
            try
            {
                var settings = ProfileSettings.Standard(files, backend.Port).Settings;
                foreach (var edit in _settings)
                {
                    edit(settings, files, backend);
                }
                return new Scenario(backend, files, await InvokerHost.StartAsync(settings, _host));
            }
            catch
            {
                files.Dispose();
                await backend.DisposeAsync();
                throw;
            }
        }
    }
}
