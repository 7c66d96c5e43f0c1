using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Transport;

/// <summary>A resolver for names the tests own; every answer is a loopback address, so nothing leaves the machine.</summary>
internal sealed class LoopbackOnlyResolver : HostResolver
{
    private int _rebindLookups;

    public override Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => host.TrimEnd('.') switch
    {
        "localhost" => Task.FromResult(new[] { IPAddress.Loopback }),
        // Answers that change between lookups, as a rebinding attacker's DNS server gives.
        "rebind.test" => Task.FromResult(Interlocked.Increment(ref _rebindLookups) % 2 == 1
            ? new[] { IPAddress.Parse("127.0.0.1") } : new[] { IPAddress.Parse("127.0.0.53") }),
        "mixed.test" => Task.FromResult(new[] { IPAddress.IPv6Loopback, IPAddress.Loopback }),
        "v6.test" => Task.FromResult(new[] { IPAddress.IPv6Loopback }),
        "mapped.test" => Task.FromResult(new[] { IPAddress.Parse("::ffff:127.0.0.1") }),
        "compat.test" => Task.FromResult(new[] { IPAddress.Parse("::127.0.0.1") }),
        _ => throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound),
    };
}

/// <summary>The canary: a backend on loopback that must never see a connection, and the invoker in front of it.</summary>
public sealed class SsrfFixture : IAsyncLifetime
{
    public MutualTlsBackend Canary { get; private set; } = null!;
    public InvokerHost Host { get; private set; } = null!;
    private readonly TempFiles _files = new();

    public async Task InitializeAsync()
    {
        Canary = await TestPki.Instance.StartBackendAsync();
        var p = Canary.Port;
        var settings = ProfileSettings.Standard(_files, p, "names").Settings;
        var hosts = new[] { $"localhost:{p}", $"rebind.test:{p}", $"mixed.test:{p}", $"v6.test:{p}", $"mapped.test:{p}", $"compat.test:{p}" };
        for (var i = 0; i < hosts.Length; i++) { settings[$"Invoker:Profiles:names:Hosts:{i}"] = hosts[i]; }
        // Literal addresses listed on purpose: the address policy, not ownership, must stop these.
        settings["Invoker:Profiles:literals:Hosts:0"] = $"127.0.0.1:{p}";
        settings["Invoker:Profiles:literals:Hosts:1"] = $"[::1]:{p}";
        settings["Invoker:Profiles:literals:AllowPrivateNetwork"] = "true"; // private allowed, loopback still not
        settings["Invoker:AllowLoopback"] = "false";
        Host = await InvokerHost.StartAsync(settings, b => b.Services.AddSingleton<HostResolver>(new LoopbackOnlyResolver()));
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Canary.DisposeAsync();
        _files.Dispose();
    }
}

/// <summary>
/// Hostile targets: every one is refused with 403 target-not-allowed naming the rule, and the canary
/// proves no connection was made. Non-loopback addresses are covered by <see cref="AddressPolicyTests"/>
/// (unit level), so no test here can send a packet off the machine even if the policy regressed.
/// </summary>
public sealed class SsrfCorpusTests(SsrfFixture fixture) : IClassFixture<SsrfFixture>
{
    public static TheoryData<string, string> Targets => new()
    {
        // scheme tricks
        { "http://localhost:{p}/", "Only https" },
        { "HTTP://localhost:{p}/", "Only https" },
        { "ftp://localhost:{p}/", "Only https" },
        { "gopher://localhost:{p}/_GET", "Only https" },
        { "file:///etc/passwd", "Only https" },
        { "ws://localhost:{p}/", "Only https" },
        { "ldap://localhost:{p}/", "Only https" },
        // parser confusion
        { "https://user@localhost:{p}/", "user information" },
        { "https://user:pass@localhost:{p}/", "user information" },
        { "https://localhost:{p}@attacker.example/", "user information" },
        { "https://attacker.example@localhost:{p}/", "user information" },
        { "https://localhost:{p}/#@attacker.example", "fragment" },
        { "https://localhost:{p}/\\@attacker.example", "backslashes" },
        { "https://localhost:{p}/a\\b", "backslashes" },
        { "https://localhost:{p}/a b", "backslashes or whitespace" },
        // names the profile owns that resolve to loopback, however spelled
        { "https://localhost:{p}/", "loopback" },
        { "https://LOCALHOST:{p}/", "loopback" },
        { "https://localhost.:{p}/", "loopback" },
        { "HTTPS://LocalHost:{p}/path?q=1", "loopback" },
        // DNS rebinding and mixed answers
        { "https://rebind.test:{p}/", "loopback" },
        { "https://rebind.test:{p}/again", "loopback" },
        { "https://mixed.test:{p}/", "loopback" },
        { "https://v6.test:{p}/", "loopback" },
        { "https://mapped.test:{p}/", "loopback" },
        { "https://compat.test:{p}/", "loopback" },
        // a listed literal in every IPv4 form .NET accepts: canonicalised, then refused by the address policy
        { "https://127.0.0.1:{p}/", "loopback" },
        { "https://2130706433:{p}/", "loopback" },
        { "https://0x7f000001:{p}/", "loopback" },
        { "https://0x7f.0x0.0x0.0x1:{p}/", "loopback" },
        { "https://0177.0.0.1:{p}/", "loopback" },
        { "https://017700000001:{p}/", "loopback" },
        { "https://127.1:{p}/", "loopback" },
        { "https://127.0.1:{p}/", "loopback" },
        { "https://127.000.000.001:{p}/", "loopback" },
        { "https://[::1]:{p}/", "loopback" },
        { "https://[0:0:0:0:0:0:0:1]:{p}/", "loopback" },
        // literals nobody listed, and internal addresses: ownership refuses them before any lookup
        { "https://127.0.0.2:{p}/", "No profile owns" },
        { "https://[::ffff:127.0.0.1]:{p}/", "No profile owns" },
        { "https://169.254.169.254/metadata/instance", "No profile owns" },
        { "https://0xa9fea9fe/", "No profile owns" },
        { "https://[fe80::1]/", "No profile owns" },
        { "https://168.63.129.16/", "No profile owns" },
        { "https://10.0.0.1/", "No profile owns" },
        { "https://192.168.0.1:8443/", "No profile owns" },
        { "https://0.0.0.0:{p}/", "No profile owns" },
        { "https://[::]:{p}/", "No profile owns" },
        { "https://metadata.azure.internal/", "No profile owns" },
        { "https://localhost:1/", "No profile owns" },
        { "https://lоcalhost:{p}/", "No profile owns" }, // Cyrillic о: a different (punycode) name
        { "https://localhost.attacker.example:{p}/", "No profile owns" },
    };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Hostile_target_is_refused_naming_the_rule_and_nothing_connects(string template, string rule)
    {
        var url = template.Replace("{p}", fixture.Canary.Port.ToString(), StringComparison.Ordinal);

        using var response = await fixture.Host.InvokeAsync(new { method = "GET", url });

        var problem = await InvokerHost.AssertProblemAsync(response, 403, ErrorCodes.TargetNotAllowed);
        Assert.Contains(rule, problem.GetProperty("detail").GetString());
        Assert.Equal(0, fixture.Canary.Connections);
    }

    [Fact]
    public void The_corpus_has_at_least_forty_targets() => Assert.True(Targets.Count >= 40);
}
