using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>
/// A refresh is judged by the whole material — the leaf, the chain sent with it, the key — and a replacement that is
/// worse than the certificate in use is refused like a failed read: the last good one keeps serving, and the refusal is
/// the refresh's error (issue 34, items 1 and 2).
/// </summary>
public sealed class RefreshJudgementTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    private static async Task<JsonElement> RefreshAsync(InvokerHost host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/profiles/payments/refresh");
        request.Headers.Add(ApiKeyAuthenticator.HeaderName, InvokerHost.AdminKey);
        using var client = new HttpClient { BaseAddress = host.Client.BaseAddress };
        using var response = await client.SendAsync(request);
        return await InvokerHost.ReadAsync(response, 200);
    }

    /// <summary>The client certificate's files: a PFX (Source=File), or PEM with the chain appended to the certificate file (Source=Pem).</summary>
    private sealed class ClientFiles(TempFiles files, string kind)
    {
        public void Write(X509Certificate2 leaf, params X509Certificate2[] chain)
        {
            if (kind == "pfx")
            {
                files.Pfx("client.pfx", ProfileSettings.Password, [leaf, .. chain]);
            }
            else
            {
                files.CertificatePem("client.pem", [leaf, .. chain]);
                files.KeyPem("client.key", leaf, "pkcs8");
            }
        }

        public ProfileSettings Settings(int port)
        {
            var settings = new ProfileSettings().Set("payments", "Hosts:0", $"localhost:{port}")
                .Set("payments", "TrustedCa:Source", "File")
                .Set("payments", "TrustedCa:Path", files.CertificatePem("root.pem", Pki.RootPublic));
            return kind == "pfx"
                ? settings.Set("payments", "ClientCertificate:Source", "File")
                    .Set("payments", "ClientCertificate:Path", Path.Combine(files.Directory, "client.pfx"))
                    .Set("payments", "ClientCertificate:Password", ProfileSettings.Password)
                : settings.Set("payments", "ClientCertificate:Source", "Pem")
                    .Set("payments", "ClientCertificate:CertificatePath", Path.Combine(files.Directory, "client.pem"))
                    .Set("payments", "ClientCertificate:KeyPath", Path.Combine(files.Directory, "client.key"));
        }
    }

    private static string[] Chain(JsonElement state) =>
        state.GetProperty("certificate").GetProperty("chain").EnumerateArray().Select(c => c.GetProperty("subject").GetString()!).ToArray();

    [Theory]
    [InlineData("pfx", true)]
    [InlineData("pfx", false)]
    [InlineData("pem", true)]
    [InlineData("pem", false)]
    public async Task A_change_to_the_chain_alone_is_a_change_that_reaches_the_wire(string kind, bool addIntermediate)
    {
        // The backend trusts only the root: the intermediate must come from us.
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var client = new ClientFiles(files, kind);
        client.Write(Pki.ClientRsa, addIntermediate ? [] : [Pki.IntermediatePublic]);
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(client.Settings(backend.Port).Settings));
        var call = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        if (addIntermediate)
        {
            using var refused = await host.InvokeAsync(call);
            await InvokerHost.AssertProblemAsync(refused, 502, ErrorCodes.TlsHandshakeFailed);
        }
        else
        {
            await host.InvokeJsonAsync(call);
        }

        // The same leaf, the chain rebuilt around it.
        client.Write(Pki.ClientRsa, addIntermediate ? [Pki.IntermediatePublic] : []);
        var refreshed = await RefreshAsync(host);

        Assert.True(refreshed.GetProperty("refreshed").GetBoolean(), refreshed.ToString());
        Assert.True(refreshed.GetProperty("changed").GetBoolean(), refreshed.ToString());
        var state = refreshed.GetProperty("state");
        string[] expected = addIntermediate ? ["CN=bot-client-rsa", "CN=Test Intermediate CA"] : ["CN=bot-client-rsa"];
        Assert.Equal(expected, Chain(state));
        Assert.Equal(addIntermediate ? 0 : 1, state.GetProperty("warnings").GetArrayLength());
        using var after = await host.InvokeAsync(call);
        if (addIntermediate)
        {
            var envelope = await InvokerHost.ReadAsync(after, 200);
            Assert.Equal(200, envelope.GetProperty("status").GetInt32());
            Assert.Contains("CN=Test Intermediate CA", envelope.GetProperty("body").GetProperty("clientChain").EnumerateArray().Select(e => e.GetString()));
        }
        else
        {
            await InvokerHost.AssertProblemAsync(after, 502, ErrorCodes.TlsHandshakeFailed);
        }
        var again = await RefreshAsync(host);
        Assert.False(again.GetProperty("changed").GetBoolean()); // the same material read again is no change
    }

    public static TheoryData<string, string> WorseReplacements => new()
    {
        { "expired", "expired on" },
        { "not-yet-valid", "is not valid before" },
        { "server-auth-only", "not made for client authentication" },
        { "cannot-sign", "may not sign" },
        { "another-key", "belongs to none of the 2 certificate(s)" },
    };

    [Theory]
    [MemberData(nameof(WorseReplacements))]
    public async Task A_replacement_worse_than_the_certificate_in_use_is_refused_and_the_last_good_keeps_serving(string replacement, string why)
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var client = new ClientFiles(files, "pem");
        client.Write(Pki.ClientRsa, Pki.IntermediatePublic);
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(client.Settings(backend.Port).Settings));
        var call = new { method = "GET", url = $"{backend.BaseAddress}echo" };
        await host.InvokeJsonAsync(call);

        var now = DateTimeOffset.UtcNow;
        string[] names = ["bot-client-replacement"];
        var worse = replacement switch
        {
            "expired" => OddCertificates.Leaf(names, notBefore: now.AddDays(-30), notAfter: now.AddDays(-1), eku: OddCertificates.ClientAuth),
            "not-yet-valid" => OddCertificates.Leaf(names, notBefore: now.AddDays(2), notAfter: now.AddDays(60), eku: OddCertificates.ClientAuth),
            "server-auth-only" => OddCertificates.Leaf(names, eku: OddCertificates.ServerAuth),
            "cannot-sign" => OddCertificates.Leaf(names, eku: OddCertificates.ClientAuth, usage: X509KeyUsageFlags.KeyEncipherment),
            _ => OddCertificates.Leaf(names, eku: OddCertificates.ClientAuth),
        };
        client.Write(worse, Pki.IntermediatePublic);
        if (replacement == "another-key")
        {
            files.KeyPem("client.key", Pki.ClientEc, "pkcs8"); // the key of another certificate
        }
        var refreshed = await RefreshAsync(host);

        Assert.False(refreshed.GetProperty("refreshed").GetBoolean(), refreshed.ToString());
        Assert.False(refreshed.GetProperty("changed").GetBoolean());
        var error = refreshed.GetProperty("error").GetString()!;
        Assert.Contains(why, error);
        var state = refreshed.GetProperty("state");
        Assert.Equal("CN=bot-client-rsa", state.GetProperty("certificate").GetProperty("subject").GetString());
        Assert.Equal("degraded", state.GetProperty("status").GetString());
        Assert.Contains("the last refresh failed", state.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        var after = await host.InvokeJsonAsync(call);
        Assert.Equal("CN=bot-client-rsa", after.GetProperty("body").GetProperty("clientCertificate").GetString());

        // A usable replacement afterwards is taken.
        client.Write(Pki.Intermediate.IssueClient("bot-client-fixed"), Pki.IntermediatePublic);
        var fixedUp = await RefreshAsync(host);
        Assert.True(fixedUp.GetProperty("changed").GetBoolean(), fixedUp.ToString());
        Assert.Equal("healthy", fixedUp.GetProperty("state").GetProperty("status").GetString());
    }

    [Fact]
    public async Task An_expired_certificate_the_source_still_holds_is_reported_as_such_not_as_a_failed_read()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var client = new ClientFiles(files, "pfx");
        var now = DateTimeOffset.UtcNow;
        client.Write(OddCertificates.Leaf(["bot-client-old"], notBefore: now.AddDays(-30), notAfter: now.AddDays(-1), eku: OddCertificates.ClientAuth), Pki.IntermediatePublic);
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(client.Settings(backend.Port).Settings));
        var call = new { method = "GET", url = $"{backend.BaseAddress}echo" };

        using var expired = await host.InvokeAsync(call);
        var problem = await InvokerHost.AssertProblemAsync(expired, 503, ErrorCodes.CertificateUnavailable);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Equal(FailureCauses.ClientCertificateExpired, problem.GetProperty("cause").GetString());
        Assert.Contains("the source still held this certificate when last read", detail);
        Assert.DoesNotContain("could be loaded", detail);

        File.Delete(Path.Combine(files.Directory, "client.pfx"));
        await RefreshAsync(host);
        using var unreadable = await host.InvokeAsync(call);
        detail = (await InvokerHost.AssertProblemAsync(unreadable, 503, ErrorCodes.CertificateUnavailable)).GetProperty("detail").GetString()!;
        Assert.Contains("the last re-read of the source failed", detail);
        Assert.Contains("'client.pfx' does not exist", detail);
    }
}
