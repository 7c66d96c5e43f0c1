using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Standalone.Demo;

/// <summary>
/// Everything --demo needs, made fresh: a PKI (root → intermediate → client leaf, and a server
/// certificate), a loopback backend that requires a client certificate chaining to the demo root,
/// and the invoker configured with a <c>demo</c> profile using file certificates.
/// </summary>
public sealed class DemoEnvironment : IAsyncDisposable
{
    private readonly string _directory;

    /// <summary>Where the demo serves unless --urls says otherwise.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    private DemoEnvironment(string directory, MutualTlsBackend backend, WebApplication invoker, string apiKey, string adminKey)
    {
        _directory = directory;
        Backend = backend;
        Invoker = invoker;
        ApiKey = apiKey;
        AdminKey = adminKey;
    }

    public MutualTlsBackend Backend { get; }
    public WebApplication Invoker { get; }
    public string ApiKey { get; }
    public string AdminKey { get; }
    public Uri InvokerAddress => new(Invoker.Urls.First());
    public Uri EchoUrl => new(Backend.BaseAddress, "/echo");

    public string RequestJson => $$$"""{"method":"POST","url":"{{{EchoUrl}}}","body":{"hello":"mutual TLS"}}""";

    public string CurlCommand =>
        $"curl -s -X POST {new Uri(InvokerAddress, "/api/invoke")} -H 'x-functions-key: {ApiKey}' " +
        $"-H 'Content-Type: application/json' -d '{RequestJson}'";

    public string HealthCurlCommand => $"curl -s {new Uri(InvokerAddress, "/api/health")} -H 'x-functions-key: {ApiKey}'";

    public string ProbeCurlCommand => $"curl -s -X POST {new Uri(InvokerAddress, "/api/profiles/demo/probe")} -H 'x-functions-key: {AdminKey}'";

    /// <summary>
    /// --demo from the command line: starts, prints the ready-to-paste lines, keeps the terminal until
    /// Ctrl+C. A port already in use is one line on stderr and exit code 1, with nothing left behind.
    /// </summary>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        DemoEnvironment demo;
        try
        {
            demo = await StartAsync(args);
        }
        catch (IOException e) when (Configuration.StartupRefusal.AddressInUse(e) is not null)
        {
            await Console.Error.WriteLineAsync($"The demo could not start: {Requested(args) ?? DefaultUrl} is already in use " +
                "(another demo running?). Stop it, or pick another address with --urls http://127.0.0.1:5081.");
            return 1;
        }
        await using (demo)
        {
            Console.WriteLine();
            Console.WriteLine("Service Node Invoker demo is running (this terminal stays with it; Ctrl+C stops it).");
            Console.WriteLine($"  invoker:      {demo.InvokerAddress}");
            Console.WriteLine($"  demo backend: {demo.Backend.BaseAddress} (requires a client certificate chaining to the demo root)");
            Console.WriteLine();
            Console.WriteLine("Call the backend over mutual TLS through the invoker:");
            Console.WriteLine(demo.CurlCommand);
            Console.WriteLine();
            Console.WriteLine("The profile's certificate state:");
            Console.WriteLine(demo.HealthCurlCommand);
            Console.WriteLine();
            Console.WriteLine("Probe the backend's TLS set-up (admin key):");
            Console.WriteLine(demo.ProbeCurlCommand);
            Console.WriteLine();
            await demo.Invoker.WaitForShutdownAsync();
        }
        return 0;
    }

    private static string? Requested(string[] args)
    {
        var index = Array.IndexOf(args, "--urls");
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <param name="args">Host arguments (for example --urls); --demo itself is ignored.</param>
    public static async Task<DemoEnvironment> StartAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var directory = Directory.CreateTempSubdirectory("service-node-invoker-demo-").FullName;
        MutualTlsBackend? backend = null;
        WebApplication? invoker = null;
        try
        {
            var root = CertificateAuthority.CreateRoot("Demo Root CA");
            var intermediate = root.CreateIntermediate("Demo Intermediate CA");
            var client = intermediate.IssueClient("bot-client");
            var server = intermediate.IssueServer(["localhost", "127.0.0.1"]);

            // Written like an operator's files: a PFX with leaf + intermediate, and the root in PEM.
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            var pfxPath = Path.Combine(directory, "demo-client.pfx");
            await File.WriteAllBytesAsync(pfxPath, new X509Certificate2Collection { client, intermediate.Intermediates()[0] }
                .Export(X509ContentType.Pkcs12, password)!);
            var rootPath = Path.Combine(directory, "demo-root.pem");
            await File.WriteAllTextAsync(rootPath, root.Certificate.ExportCertificatePem());

            backend = await MutualTlsBackend.StartAsync(new MutualTlsBackendOptions
            {
                ServerCertificate = server,
                ServerChain = intermediate.Intermediates(),
                ClientRoot = X509CertificateLoader.LoadCertificate(root.Certificate.RawData),
            });

            // Hex: safe in a header and in ?code= without encoding.
            var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            var adminKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            var settings = new Dictionary<string, string?>
            {
                ["Invoker:AllowLoopback"] = "true",
                ["Invoker:Profiles:demo:Hosts:0"] = $"localhost:{backend.Port}",
                ["Invoker:Profiles:demo:ClientCertificate:Source"] = "File",
                ["Invoker:Profiles:demo:ClientCertificate:Path"] = pfxPath,
                ["Invoker:Profiles:demo:ClientCertificate:Password"] = password,
                ["Invoker:Profiles:demo:TrustedCa:Source"] = "File",
                ["Invoker:Profiles:demo:TrustedCa:Path"] = rootPath,
                ["Invoker:Callers:ApiKeys:demo-bot"] = Endpoints.InvokerApi.HashApiKey(apiKey),
                ["Invoker:Callers:AdminKeys:demo-admin"] = Endpoints.InvokerApi.HashApiKey(adminKey),
            };
            var hostArgs = args.Where(a => a != "--demo").ToArray();
            invoker = StandaloneApp.Build(hostArgs, builder =>
            {
                builder.Configuration.AddInMemoryCollection(settings);
                if (string.IsNullOrEmpty(builder.Configuration["urls"]))
                {
                    builder.WebHost.UseUrls(DefaultUrl);
                }
                configure?.Invoke(builder);
            });
            await invoker.StartAsync();
            return new DemoEnvironment(directory, backend, invoker, apiKey, adminKey);
        }
        catch
        {
            // Nothing of a failed start stays behind: no listener, no certificate or key file.
            if (invoker is not null)
            {
                await invoker.DisposeAsync();
            }
            if (backend is not null)
            {
                await backend.DisposeAsync();
            }
            DeleteDirectory(directory);
            throw;
        }
    }

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // best effort: it is a temp folder
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Invoker.StopAsync();
        await Invoker.DisposeAsync();
        await Backend.DisposeAsync();
        DeleteDirectory(_directory);
    }
}
