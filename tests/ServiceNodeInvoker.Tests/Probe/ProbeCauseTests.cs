using System.Net.Sockets;

namespace ServiceNodeInvoker.Tests.Probe;

/// <summary>
/// The probe names the cause of every failure in <c>tls.cause</c> — the one an invocation to the same host gets — so the
/// guide's <c>jq '.hosts[] | {summary, cause: .tls.cause}'</c> keeps its promise (issue 34, item 3: it was null for
/// server-certificate failures, our expired certificate and a wrong PFX password).
/// </summary>
public sealed class ProbeCauseTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    public static TheoryData<string, string> Failures => new()
    {
        { "untrusted server", FailureCauses.ServerCertificate },
        { "server for another name", FailureCauses.ServerCertificate },
        { "our expired certificate", FailureCauses.ClientCertificateExpired },
        { "ours not yet valid", FailureCauses.ClientCertificateNotYetValid },
        { "wrong PFX password", FailureCauses.CertificateLoadFailed },
        { "backend refuses ours", FailureCauses.ClientCertificateRefused },
        { "no client certificate", FailureCauses.ClientCertificateMissing },
        { "closed port", FailureCauses.ConnectionRefused },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task The_probe_names_the_cause_an_invocation_gets(string failure, string cause)
    {
        var now = DateTimeOffset.UtcNow;
        await using var backend = await (failure switch
        {
            "untrusted server" => Pki.StartBackendAsync(server: Pki.UntrustedServer),
            "server for another name" => Pki.StartBackendAsync(server: Pki.WrongNameServer),
            "backend refuses ours" => Pki.StartBackendAsync(clientRoot: X509CertificateLoader.LoadCertificate(Pki.OtherRoot.Certificate.RawData)),
            _ => Pki.StartBackendAsync(),
        });
        var port = backend.Port;
        if (failure == "closed port")
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port; // nothing listens there once stopped
        }
        using var files = new TempFiles();
        var client = failure switch
        {
            "our expired certificate" => OddCertificates.Leaf(["bot-client-old"], notBefore: now.AddDays(-30), notAfter: now.AddDays(-1), eku: OddCertificates.ClientAuth),
            "ours not yet valid" => OddCertificates.Leaf(["bot-client-new"], notBefore: now.AddDays(2), notAfter: now.AddDays(60), eku: OddCertificates.ClientAuth),
            _ => Pki.ClientRsa,
        };
        var settings = ProfileSettings.Standard(files, port, client: client);
        if (failure == "wrong PFX password")
        {
            settings.Set("payments", "ClientCertificate:Password", "not-the-password");
        }
        if (failure == "no client certificate")
        {
            settings.Settings.Remove("Invoker:Profiles:payments:ClientCertificate:Source");
            settings.Settings.Remove("Invoker:Profiles:payments:ClientCertificate:Path");
            settings.Settings.Remove("Invoker:Profiles:payments:ClientCertificate:Password");
        }
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(settings.Settings));

        var probed = (await host.ProbeAsync()).GetProperty("hosts")[0];
        using var invoked = await host.InvokeAsync(new { method = "GET", url = $"https://localhost:{port}/echo" });
        var problem = JsonDocument.Parse(await invoked.Content.ReadAsStringAsync()).RootElement;

        Assert.False(probed.GetProperty("ok").GetBoolean(), probed.ToString());
        Assert.Equal(cause, probed.GetProperty("tls").GetProperty("cause").GetString());
        Assert.Equal(cause, problem.GetProperty("cause").GetString());
    }
}
