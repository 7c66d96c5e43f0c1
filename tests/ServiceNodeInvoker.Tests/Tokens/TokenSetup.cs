using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;

namespace ServiceNodeInvoker.Tests.Tokens;

/// <summary>
/// An <see cref="OAuthServer"/> (token endpoint and resource API on one mutual-TLS port) and the invoker with profile
/// 'payments' owning it: the test PKI's client certificate, the test root as TrustedCa, a token source for the
/// registered client, and forward mode onto /api.
/// </summary>
internal sealed class TokenSetup : IAsyncDisposable
{
    public const string Profile = "payments";

    private TokenSetup(OAuthServer server, TempFiles files, InvokerHost host, string pfxPath)
    {
        Server = server;
        Files = files;
        Host = host;
        PfxPath = pfxPath;
    }

    public OAuthServer Server { get; }
    public TempFiles Files { get; }
    public InvokerHost Host { get; }

    /// <summary>The profile's client certificate file (a rotation writes a new one here).</summary>
    public string PfxPath { get; }

    public static string MethodSetting(ClientAuth method) => method switch
    {
        ClientAuth.TlsClientAuth => "TlsClientAuth",
        ClientAuth.SelfSignedTlsClientAuth => "SelfSignedTlsClientAuth",
        ClientAuth.PrivateKeyJwt => "PrivateKeyJwt",
        _ => "ClientSecretBasic",
    };

    /// <summary>A client registered for tls_client_auth with the test PKI's RSA client certificate.</summary>
    public static OAuthClient TlsClient(string id = "bot-platform") =>
        new(id, ClientAuth.TlsClientAuth) { SubjectDn = TestPki.Instance.ClientRsa.Subject };

    public static Task<TokenSetup> StartAsync(OAuthClient? client = null, X509Certificate2? certificate = null,
        Action<ProfileSettings, OAuthServer>? settings = null, TimeProvider? time = null, Action<WebApplicationBuilder>? host = null) =>
        StartAsync(client ?? TlsClient(), certificate, settings, time, host, server: null);

    private static async Task<TokenSetup> StartAsync(OAuthClient client, X509Certificate2? certificate,
        Action<ProfileSettings, OAuthServer>? settings, TimeProvider? time, Action<WebApplicationBuilder>? host, OAuthServer? server)
    {
        server ??= await OAuthServer.StartAsync(client);
        var files = new TempFiles();
        try
        {
            var profile = ProfileSettings.Standard(files, server.Port, Profile, certificate)
                .Set(Profile, "Token:Endpoint", server.TokenEndpoint)
                .Set(Profile, "Token:ClientId", client.Id)
                .Set(Profile, "Token:Scopes:0", "payments:read")
                .Set(Profile, "Token:ClientAuthentication", MethodSetting(client.Method))
                .Set(Profile, "BaseUrl", $"https://localhost:{server.Port}/api");
            if (client.Method == ClientAuth.ClientSecretBasic)
            {
                profile.Set(Profile, "Token:ClientSecret:Source", "Setting").Set(Profile, "Token:ClientSecret:Value", client.Secret);
            }
            settings?.Invoke(profile, server);
            InvokerHost.WithAdminKey(profile.Settings);
            var pfx = profile.Settings[$"Invoker:Profiles:{Profile}:ClientCertificate:Path"]!;
            var started = await InvokerHost.StartAsync(profile.Settings, builder =>
            {
                if (time is not null)
                {
                    builder.Services.AddSingleton(time);
                }
                host?.Invoke(builder);
            });
            return new TokenSetup(server, files, started, pfx);
        }
        catch
        {
            files.Dispose();
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>An envelope invocation of the API; the whole envelope.</summary>
    public Task<JsonElement> InvokeAsync(string path = "/api/accounts", int expectedStatus = 200) =>
        Host.InvokeJsonAsync(new { method = "GET", url = Server.Api(path) }, expectedStatus);

    /// <summary>The jti of the token the API accepted on an envelope call that reached it.</summary>
    public async Task<string> AcceptedJtiAsync(string path = "/api/accounts")
    {
        var envelope = await InvokeAsync(path);
        Assert.True(envelope.GetProperty("status").GetInt32() == 200, envelope.ToString());
        return envelope.GetProperty("body").GetProperty("jti").GetString()!;
    }

    public async Task<JsonElement> TokenHealthAsync() =>
        (await Host.HealthAsync()).GetProperty("profiles").GetProperty(Profile).GetProperty("token");

    /// <summary>A self-signed client certificate (for self_signed_tls_client_auth).</summary>
    public static X509Certificate2 SelfSigned(string name = "bot-self-signed")
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        Files.Dispose();
        await Server.DisposeAsync();
    }
}
