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

    private DemoEnvironment(string directory, MutualTlsBackend backend, WebApplication invoker, string apiKey)
    {
        _directory = directory;
        Backend = backend;
        Invoker = invoker;
        ApiKey = apiKey;
    }

    public MutualTlsBackend Backend { get; }
    public WebApplication Invoker { get; }
    public string ApiKey { get; }
    public Uri InvokerAddress => new(Invoker.Urls.First());
    public Uri EchoUrl => new(Backend.BaseAddress, "/echo");

    public string RequestJson => $$$"""{"method":"POST","url":"{{{EchoUrl}}}","body":{"hello":"mutual TLS"}}""";

    public string CurlCommand =>
        $"curl -s -X POST {new Uri(InvokerAddress, "/api/invoke")} -H 'x-functions-key: {ApiKey}' " +
        $"-H 'Content-Type: application/json' -d '{RequestJson}'";

    /// <param name="args">Host arguments (for example --urls); --demo itself is ignored.</param>
    public static async Task<DemoEnvironment> StartAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var directory = Directory.CreateTempSubdirectory("service-node-invoker-demo-").FullName;
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

        var backend = await MutualTlsBackend.StartAsync(new MutualTlsBackendOptions
        {
            ServerCertificate = server,
            ServerChain = intermediate.Intermediates(),
            ClientRoot = X509CertificateLoader.LoadCertificate(root.Certificate.RawData),
        });

        var apiKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
        var settings = new Dictionary<string, string?>
        {
            ["Invoker:AllowLoopback"] = "true",
            ["Invoker:Profiles:demo:Hosts:0"] = $"localhost:{backend.Port}",
            ["Invoker:Profiles:demo:ClientCertificate:Source"] = "File",
            ["Invoker:Profiles:demo:ClientCertificate:Path"] = pfxPath,
            ["Invoker:Profiles:demo:ClientCertificate:Password"] = password,
            ["Invoker:Profiles:demo:TrustedCa:Source"] = "File",
            ["Invoker:Profiles:demo:TrustedCa:Path"] = rootPath,
            ["Invoker:Callers:ApiKeys:demo-bot"] = ApiKeyAuthenticator.HashKey(apiKey),
        };
        var hostArgs = args.Where(a => a != "--demo").ToArray();
        var invoker = StandaloneApp.Build(hostArgs, builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            if (string.IsNullOrEmpty(builder.Configuration["urls"]))
            {
                builder.WebHost.UseUrls("http://127.0.0.1:0");
            }
            configure?.Invoke(builder);
        }, consoleTelemetry: configure is null);
        await invoker.StartAsync();
        return new DemoEnvironment(directory, backend, invoker, apiKey);
    }

    public async ValueTask DisposeAsync()
    {
        await Invoker.StopAsync();
        await Invoker.DisposeAsync();
        await Backend.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // best effort: it is a temp folder
        }
    }
}
