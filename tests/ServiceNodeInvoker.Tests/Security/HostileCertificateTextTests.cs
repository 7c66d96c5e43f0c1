using System.Security.Authentication;

namespace ServiceNodeInvoker.Tests.Security;

/// <summary>
/// A backend chooses the names in its certificate (subject alternative names) and the CA names of its CertificateRequest:
/// text another party wrote. The 502 that quotes them quotes them escaped and capped (LogText.Quote), each and as a list,
/// so a backend can neither forge a log line nor make a reply (or the log line written from it) as large as it likes.
/// </summary>
public sealed class HostileCertificateTextTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>CR/LF that would start a forged line, an ANSI colour escape, and 10 KB.</summary>
    private static readonly string Forged = "evil\r\nInvocation ok: caller admin\u001b[31m" + new string('x', 10 * 1024);

    private static void AssertQuoted(string detail)
    {
        Assert.DoesNotContain('\n', detail);
        Assert.DoesNotContain('\r', detail);
        Assert.DoesNotContain('\u001b', detail);
        Assert.True(detail.Length < 4000, $"the detail is {detail.Length} characters long");
    }

    [Fact]
    public async Task A_backend_certificates_alternative_names_are_quoted_escaped_and_capped_in_the_name_mismatch_502()
    {
        var names = new[] { "evil\r\nforged.example\u001b[31m" }.Concat(Enumerable.Range(0, 3000).Select(i => $"n{i}.hostile.example"));
        await using var backend = await Pki.StartBackendAsync(server: Pki.ServerWithDnsNames(names));
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var detail = (await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed)).GetProperty("detail").GetString()!;
        Assert.Contains("not valid for the host name 'localhost'", detail);
        Assert.Contains("evil\\x0D\\x0Aforged.example\\x1B[31m", detail);
        AssertQuoted(detail);
    }

    [Fact]
    public async Task The_ca_names_a_backend_announces_are_quoted_escaped_and_capped_in_the_refusal_502()
    {
        await using var backend = await Pki.StartBackendAsync(clientRoot: TestPki.CaNamed(Forged, DateTimeOffset.UtcNow.AddYears(1)),
            announceClientRoot: true, protocols: SslProtocols.Tls12);
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var detail = (await InvokerHost.AssertProblemAsync(response, 502, ErrorCodes.TlsHandshakeFailed)).GetProperty("detail").GetString()!;
        Assert.Contains("The server named the CAs it accepts: 'CN=\"evil\\x0D\\x0AInvocation ok", detail);
        AssertQuoted(detail);
    }
}
