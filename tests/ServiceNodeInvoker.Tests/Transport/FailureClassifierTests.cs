using System.Net.Sockets;
using ServiceNodeInvoker.Invocation;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Transport;

/// <summary>
/// The one failure classifier and the parser of what a server sent, directly, from exact bytes and exceptions
/// (the end-to-end cases against real servers are in Invocation/MisconfigurationTests).
/// </summary>
[Trait("Tier", "Fast")]
public sealed class FailureClassifierTests
{
    private static readonly TlsProfile Profile = new() { Name = "payments", Hosts = new HashSet<HostKey>() };
    private static readonly HostKey Target = new("partner.example", 8443);

    private static ServiceNodeInvoker.Transport.Diagnosis Diagnose(Exception? e, TimeSpan? timedOutAfter = null) =>
        FailureClassifier.Diagnose(e, new FailureClassifier.Evidence(Target, Profile, PresentedClientCertificate: true, timedOutAfter, Witness: null));

    [Fact]
    public void A_refused_connection_is_unreachable_and_says_nothing_listens()
    {
        var d = Diagnose(new HttpRequestException(HttpRequestError.ConnectionError, "refused", new SocketException((int)SocketError.ConnectionRefused)));
        Assert.Equal((ErrorCodes.BackendUnreachable, FailureCauses.ConnectionRefused), (d.Code, d.Cause));
        Assert.Contains("partner.example:8443", d.Text);
        Assert.Contains("nothing listens on that port", d.Text);
    }

    [Fact]
    public void A_name_that_does_not_resolve_is_dns()
    {
        var d = Diagnose(new HttpRequestException(HttpRequestError.NameResolutionError, "no such host"));
        Assert.Equal((ErrorCodes.BackendUnreachable, FailureCauses.Dns), (d.Code, d.Cause));
    }

    [Fact]
    public void A_rejected_server_certificate_names_the_reason()
    {
        var d = Diagnose(new HttpRequestException(HttpRequestError.SecureConnectionError, "ssl",
            new System.Security.Authentication.AuthenticationException("auth", new ServerCertificateRejectedException("'CN=partner' expired on 2026-11-30"))));
        Assert.Equal((ErrorCodes.TlsHandshakeFailed, FailureCauses.ServerCertificate), (d.Code, d.Cause));
        Assert.Contains("expired on 2026-11-30", d.Text);
    }

    [Fact]
    public void A_deadline_without_a_witness_is_a_response_timeout_naming_the_profiles_limit()
    {
        var d = Diagnose(new TaskCanceledException(), TimeSpan.FromSeconds(2));
        Assert.Equal((ErrorCodes.BackendTimeout, FailureCauses.ResponseTimeout), (d.Code, d.Cause));
        Assert.Contains("within 2 s", d.Text);
        Assert.Contains("profile 'payments'", d.Text);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\r\n<html>", "HTTP/1.1 400 Bad Request")]
    // Python's http.server answers a TLS hello with this page and no status line.
    [InlineData("<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <title>Error response</title>", "<!DOCTYPE HTML>")]
    public void A_plain_http_answer_to_our_hello_is_read_as_plain_http(string answer, string preview)
    {
        var flight = ServerFlight.Parse(Encoding.ASCII.GetBytes(answer));
        Assert.Equal(FlightKind.PlainHttp, flight.Kind);
        Assert.Equal(preview, flight.Preview);
    }

    [Fact]
    public void A_banner_is_quoted_escaped_and_capped()
    {
        var flight = ServerFlight.Parse(Encoding.Latin1.GetBytes("\u001b[31mRED " + new string('x', 500) + "\r\nnext"));
        Assert.Equal(FlightKind.NotTls, flight.Kind);
        Assert.StartsWith("\\x1B[31mRED xxx", flight.Preview);
        Assert.EndsWith("… (509 characters)", flight.Preview);
        Assert.DoesNotContain("next", flight.Preview);
    }

    [Fact]
    public void Another_protocols_banner_is_not_tls()
    {
        var flight = ServerFlight.Parse("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"u8);
        Assert.Equal(FlightKind.NotTls, flight.Kind);
        Assert.StartsWith("SSH-2.0-OpenSSH_9.2p1", flight.Preview);
    }

    [Fact]
    public void A_plaintext_alert_record_is_read_with_its_description()
    {
        // A TLS 1.2 fatal handshake_failure alert, as OpenSSL sends it before any ServerHello.
        var flight = ServerFlight.Parse([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        Assert.Equal(FlightKind.Tls, flight.Kind);
        Assert.Equal("handshake_failure", flight.Alert!.Value.Name);
        Assert.True(flight.AlertBeforeHello);
    }

    [Fact]
    public void A_server_hello_choosing_tls_1_0_is_seen()
    {
        // Handshake record, ServerHello (type 2) whose legacy_version is 0x0301 and carries no supported_versions extension.
        byte[] hello = [0x16, 0x03, 0x01, 0x00, 0x2A, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01, .. new byte[32], 0x00, 0x00, 0x2F, 0x00];
        var flight = ServerFlight.Parse(hello);
        Assert.Equal(0x0301, flight.HelloVersion);
        Assert.Equal("TLS 1.0", ServerFlight.VersionName(flight.HelloVersion!.Value));
    }

    [Fact]
    public void Nothing_at_all_is_nothing()
    {
        Assert.Equal(FlightKind.Nothing, ServerFlight.Parse([]).Kind);
    }
}
