using System.Security.Cryptography.X509Certificates;
using ServiceNodeInvoker.Standalone.Demo;

namespace ServiceNodeInvoker.Bench;

/// <summary>One throwaway PKI for every contender, written to files the way each one wants them.</summary>
public sealed class BenchPki : IDisposable
{
    public BenchPki()
    {
        Root = CertificateAuthority.CreateRoot("Bench Root CA");
        Intermediate = Root.CreateIntermediate("Bench Intermediate CA");
        Client = Intermediate.IssueClient("bench-client");
        Server = Intermediate.IssueServer(["localhost", "127.0.0.1"]);
        Directory = System.IO.Directory.CreateTempSubdirectory("sni-bench-").FullName;
        ClientPfx = Path.Combine(Directory, "client.pfx");
        File.WriteAllBytes(ClientPfx, new X509Certificate2Collection { Client, IntermediatePublic }.Export(X509ContentType.Pkcs12, "bench")!);
        RootPem = Path.Combine(Directory, "root.pem");
        File.WriteAllText(RootPem, Root.Certificate.ExportCertificatePem());
        ClientChainPem = Path.Combine(Directory, "client-chain.pem");
        File.WriteAllText(ClientChainPem, Client.ExportCertificatePem() + "\n" + IntermediatePublic.ExportCertificatePem());
        ClientKeyPem = Path.Combine(Directory, "client.key");
        File.WriteAllText(ClientKeyPem, Client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        ServerChainPem = Path.Combine(Directory, "server-chain.pem");
        File.WriteAllText(ServerChainPem, Server.ExportCertificatePem() + "\n" + IntermediatePublic.ExportCertificatePem());
        ServerKeyPem = Path.Combine(Directory, "server.key");
        File.WriteAllText(ServerKeyPem, Server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    public CertificateAuthority Root { get; }
    public CertificateAuthority Intermediate { get; }
    public X509Certificate2 Client { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 IntermediatePublic => X509CertificateLoader.LoadCertificate(Intermediate.Certificate.RawData);
    public X509Certificate2 RootPublic => X509CertificateLoader.LoadCertificate(Root.Certificate.RawData);
    public string Directory { get; }
    public string ClientPfx { get; }
    public string RootPem { get; }
    public string ClientChainPem { get; }
    public string ClientKeyPem { get; }
    public string ServerChainPem { get; }
    public string ServerKeyPem { get; }

    public Task<MutualTlsBackend> StartBackendAsync() => MutualTlsBackend.StartAsync(new MutualTlsBackendOptions
    {
        ServerCertificate = Server,
        ServerChain = Intermediate.Intermediates(),
        ClientRoot = RootPublic,
        HttpProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1,
    }, app =>
    {
        // Echo the JSON body back: the payload crosses the proxy both ways.
        app.MapPost("/data", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/json";
            await context.Request.Body.CopyToAsync(context.Response.Body);
        });
        app.MapGet("/stream", async (HttpContext context, long size) =>
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = size;
            var chunk = new byte[64 * 1024];
            for (long sent = 0; sent < size; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, size - sent)));
            }
        });
    });

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
