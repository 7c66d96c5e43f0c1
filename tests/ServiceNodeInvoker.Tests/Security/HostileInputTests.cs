using System.Net.Sockets;

namespace ServiceNodeInvoker.Tests.Security;

/// <summary>
/// What an attacker tried that broke earlier versions: escaped lone surrogates (500), broken request
/// framing (empty 200), log forging, a client-only certificate posing as a backend, file paths in health.
/// </summary>
public sealed class HostileInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    private string Url => $"https://localhost:{fixture.Backend.Port}/echo";

    public static TheoryData<string, string> Surrogates => new()
    {
        { "url", "{\"method\":\"GET\",\"url\":\"\\ud800\"}" },
        { "method", "{\"method\":\"\\udfff\",\"url\":\"https://x/\"}" },
        { "profile", "{\"profile\":\"p\\ud800\",\"method\":\"GET\",\"url\":\"https://x/\"}" },
        { "headers", "{\"method\":\"GET\",\"url\":\"https://x/\",\"headers\":{\"X-\\ud800\":\"v\"}}" },
        { "headers.X-A", "{\"method\":\"GET\",\"url\":\"https://x/\",\"headers\":{\"X-A\":\"\\ud800\"}}" },
        { "headers.X-B", "{\"method\":\"GET\",\"url\":\"https://x/\",\"headers\":{\"X-B\":[\"ok\",\"\\udc00\"]}}" },
        { "body", "{\"method\":\"POST\",\"url\":\"https://x/\",\"body\":\"text \\ud83d alone\"}" },
        { "response", "{\"method\":\"GET\",\"url\":\"https://x/\",\"response\":\"\\ud800\"}" },
        { "(a field name)", "{\"method\":\"GET\",\"url\":\"https://x/\",\"\\ud800x\":1}" },
    };

    [Theory]
    [MemberData(nameof(Surrogates))]
    public async Task An_escaped_lone_surrogate_is_a_400_naming_the_field(string field, string json)
    {
        using var response = await fixture.Host.InvokeRawAsync(json);

        var problem = await InvokerHost.AssertProblemAsync(response, 400, "invalid-request");
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains("lone surrogate", problem.GetProperty("detail").GetString());
    }

    /// <summary>Sends raw bytes to the invoker and returns what came back before the connection closed.</summary>
    private async Task<string> RawAsync(string head, byte[] body, bool halfClose)
    {
        var address = new Uri(fixture.Host.App.Urls.First());
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n\r\n"));
        await stream.WriteAsync(body);
        if (halfClose)
        {
            client.Client.Shutdown(SocketShutdown.Send);
        }
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await reader.ReadToEndAsync(deadline.Token);
        }
        catch (IOException)
        {
            return ""; // reset: no answer at all, which is also not a success
        }
    }

    private string Head(string framing) =>
        $"POST /api/invoke HTTP/1.1\nHost: localhost\nx-functions-key: {InvokerHost.ApiKey}\nContent-Type: application/json\n{framing}";

    [Fact]
    public async Task A_bad_chunk_size_gets_400_not_an_empty_200()
    {
        var reply = await RawAsync(Head("Transfer-Encoding: chunked"), "zz\r\n{}\r\n0\r\n\r\n"u8.ToArray(), halfClose: false);

        Assert.StartsWith("HTTP/1.1 400", reply);
        Assert.Equal(0, fixture.Backend.Requests);
    }

    [Fact]
    public async Task A_body_shorter_than_its_content_length_is_never_answered_with_a_success()
    {
        var json = Encoding.UTF8.GetBytes($"{{\"method\":\"GET\",\"url\":\"{Url}\"}}");
        var reply = await RawAsync(Head($"Content-Length: {json.Length + 50}"), json, halfClose: true);

        Assert.DoesNotContain("HTTP/1.1 200", reply);
        Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), reply);
        Assert.Equal(0, fixture.Backend.Requests);
    }

    [Fact]
    public async Task A_body_that_stalls_short_of_its_content_length_gets_408_not_an_empty_200()
    {
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, fixture.Backend.Port).Settings,
            builder => builder.WebHost.ConfigureKestrel(k =>
                k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(240, TimeSpan.FromSeconds(2))));
        var address = new Uri(host.App.Urls.First());
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Head("Content-Length: 500").Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n\r\n{\"method\":"));

        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var status = await reader.ReadLineAsync(deadline.Token);

        Assert.StartsWith("HTTP/1.1 408", status);
    }

    [Fact]
    public async Task Control_characters_from_callers_are_escaped_in_every_log_line()
    {
        var forged = "x\u001b[31m\r\n2026-12-01 info: forged line";
        using var unknown = await fixture.Host.InvokeRawAsync(
            $"{{\"method\":\"GET\",\"url\":\"{Url}\",{JsonSerializer.Serialize(forged)}:1}}");
        using var profile = await fixture.Host.InvokeAsync(new { profile = forged, method = "GET", url = Url });
        Assert.Equal(400, (int)unknown.StatusCode);
        Assert.Equal(404, (int)profile.StatusCode);

        var lines = fixture.Host.Logs.Lines.Where(l => l.Contains("forged line", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= 2, string.Join('\n', fixture.Host.Logs.Lines));
        Assert.All(lines, l =>
        {
            Assert.DoesNotContain('\u001b', l);
            Assert.DoesNotContain('\r', l.TrimEnd());
            Assert.Contains("\\x1B[31m\\x0D\\x0A", l);
        });
    }

    [Fact]
    public async Task A_client_only_certificate_cannot_pose_as_the_backend_even_from_the_trusted_ca()
    {
        var impostor = TestPki.Instance.Intermediate.IssueServer(["localhost", "127.0.0.1"], eku: "1.3.6.1.5.5.7.3.2");
        // Kestrel itself refuses to serve such a certificate; a plain TLS server (as a misused partner certificate would be) does not.
        await using var backend = new RawTlsBackend(_ => RawReply.Of("HTTP/1.1 200 OK\nContent-Length: 2", "ok"u8.ToArray()), impostor);
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(ProfileSettings.Standard(files, backend.Port).Settings);

        using var response = await host.InvokeAsync(new { method = "GET", url = $"{backend.BaseAddress}echo" });

        var problem = await InvokerHost.AssertProblemAsync(response, 502, "tls-handshake-failed");
        Assert.Contains("serverAuth", problem.GetProperty("detail").GetString());
        Assert.Empty(backend.Requests);
    }

    [Fact]
    public async Task Health_and_errors_name_certificate_files_without_their_folders()
    {
        using var files = new TempFiles();
        var settings = new ProfileSettings()
            .Set("broken", "Hosts:0", "broken.example")
            .Set("broken", "ClientCertificate:Source", "File")
            .Set("broken", "ClientCertificate:Path", Path.Combine(files.Directory, "secret-folder", "missing.pfx")).Settings;
        await using var host = await InvokerHost.StartAsync(settings);

        using var health = await host.Client.GetAsync("/api/health");
        using var call = await host.InvokeAsync(new { method = "GET", url = "https://broken.example/" });
        var text = await health.Content.ReadAsStringAsync() + await call.Content.ReadAsStringAsync();

        Assert.Contains("missing.pfx", text);
        Assert.DoesNotContain("secret-folder", text);
        Assert.DoesNotContain(files.Directory, text);
        Assert.Contains(host.Logs.Lines, l => l.Contains(Path.Combine(files.Directory, "secret-folder"), StringComparison.Ordinal)); // the operator's log has it
    }
}
