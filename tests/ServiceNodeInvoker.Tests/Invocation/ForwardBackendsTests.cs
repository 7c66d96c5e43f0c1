using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// Forward mode against backends that are not Kestrel: real nginx requiring a client certificate, and
/// raw sockets sending exactly what Apache httpd and Python's http.server send.
/// </summary>
public sealed class ForwardBackendsTests
{
    [NginxFact]
    public async Task Nginx_requiring_a_client_certificate_answers_through_forward_mode()
    {
        await using var nginx = await NginxBackend.StartAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, nginx.Port)
            .Set("payments", "BaseUrl", $"{nginx.BaseAddress}api").Settings);

        using var response = await host.Client.GetAsync("/api/forward/payments/hello");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.False(response.Headers.Contains(InvokerHeaders.Error));
        Assert.Equal("nginx/1.22.1", response.Headers.Server.ToString());
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("CN=bot-client-rsa", body.RootElement.GetProperty("client").GetString());
    }

    [NginxFact]
    public async Task Nginx_refusing_a_profile_without_a_client_certificate_is_a_marked_handshake_failure_not_its_400_page()
    {
        await using var nginx = await NginxBackend.StartAsync();
        using var files = new TempFiles();
        var settings = new ProfileSettings().Add("payments", nginx.Port, null, files.CertificatePem("root.pem", TestPki.Instance.RootPublic))
            .Set("payments", "BaseUrl", nginx.BaseAddress.ToString()).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        using var response = await host.Client.GetAsync("/api/forward/payments/hello");

        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(502, (int)response.StatusCode);
        Assert.Equal("tls-handshake-failed", response.Headers.GetValues(InvokerHeaders.Error).Single());
        Assert.Contains("No required SSL certificate was sent", text);
    }

    private static async Task<(RawTlsBackend Backend, InvokerHost Host, TempFiles Files)> RawAsync(Func<RawRequest, RawReply> reply)
    {
        var files = new TempFiles();
        var backend = new RawTlsBackend(reply);
        var settings = new ProfileSettings().Add("raw", backend.Port, null, files.CertificatePem("root.pem", TestPki.Instance.RootPublic))
            .Set("raw", "BaseUrl", $"{backend.BaseAddress}base").Settings;
        return (backend, await InvokerHost.StartAsync(settings), files);
    }

    [Fact]
    public async Task Apache_httpd_bytes_come_back_as_sent_and_the_target_goes_out_as_written()
    {
        const string page = "<html><body><h1>It works!</h1></body></html>\n";
        var (backend, host, files) = await RawAsync(_ => RawReply.Of(
            "HTTP/1.1 200 OK\nDate: Tue, 01 Dec 2026 09:00:00 GMT\nServer: Apache/2.4.57 (Debian)\n" +
            "Last-Modified: Mon, 30 Nov 2026 09:00:00 GMT\nETag: \"2d-5f1c2a9b3c4d0\"\nAccept-Ranges: bytes\n" +
            $"Content-Length: {page.Length}\nKeep-Alive: timeout=5, max=100\nConnection: Keep-Alive\nContent-Type: text/html",
            Encoding.ASCII.GetBytes(page)));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var response = await host.Client.GetAsync(new Uri("/api/forward/raw/docs/a%20b;v=1?x=1&code=KEY", UriKind.Relative));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(page, await response.Content.ReadAsStringAsync());
        Assert.Equal("\"2d-5f1c2a9b3c4d0\"", response.Headers.ETag!.Tag);
        Assert.Equal("Apache/2.4.57 (Debian)", string.Join(' ', response.Headers.NonValidated["Server"]));
        Assert.False(response.Headers.NonValidated.Contains("Keep-Alive")); // hop-by-hop: ours to the caller is our own
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("/base/docs/a%20b;v=1?x=1", seen.Target);
        Assert.Null(seen.Header("x-functions-key"));
    }

    [Fact]
    public async Task A_python_http_server_reply_without_a_length_closing_the_connection_arrives_whole()
    {
        var json = Encoding.UTF8.GetBytes("{\"items\":[1,2,3],\"note\":\"héllo\"}");
        var (backend, host, files) = await RawAsync(_ => RawReply.Of(
            "HTTP/1.0 200 OK\nServer: SimpleHTTP/0.6 Python/3.11.7\nDate: Tue, 01 Dec 2026 09:00:00 GMT\nContent-type: application/json",
            json, close: true));
        await using var _ = backend; await using var __ = host; using var ___ = files;

        using var response = await host.Client.PostAsync("/api/forward/raw/items", new StringContent("{\"q\":1}", Encoding.UTF8, "application/json"));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(json, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("POST", seen.Method);
        Assert.Equal("{\"q\":1}", Encoding.UTF8.GetString(seen.Body));
    }

    [Fact]
    public async Task The_address_policy_applies_at_connect_time_in_forward_mode_too()
    {
        await using var backend = await TestPki.Instance.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Set("payments", "BaseUrl", backend.BaseAddress.ToString()).Settings;
        settings["Invoker:AllowLoopback"] = "false"; // as deployed: localhost resolves to a loopback address, never dialled
        await using var host = await InvokerHost.StartAsync(settings);

        using var response = await host.Client.GetAsync("/api/forward/payments/echo");

        Assert.Equal(403, (int)response.StatusCode);
        Assert.Equal("target-not-allowed", response.Headers.GetValues(InvokerHeaders.Error).Single());
        Assert.Equal(0, backend.Requests);
    }
}
