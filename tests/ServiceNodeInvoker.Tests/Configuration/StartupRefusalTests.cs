
namespace ServiceNodeInvoker.Tests.Configuration;

/// <summary>
/// The real standalone host process, configured by environment variables the way operators make
/// mistakes: it must exit with code 1, print the setting at fault on stderr, and no stack trace.
/// </summary>
public sealed class StartupRefusalTests
{
    private const string Hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    private const string Thumbprint = "A71BD7FFFCCA9A419618D4EB8020BA6F6A75E7D406A91A72C237F47186E52B3D";

    /// <summary>A profile that is fine on its own, so each case shows exactly one mistake.</summary>
    internal static Dictionary<string, string> Base() => new()
    {
        ["Invoker__Profiles__a__Hosts__0"] = "a.contoso.com",
        ["Invoker__Callers__ApiKeys__bot"] = Hash,
    };

    internal static readonly (string Name, string[] Settings, string Expected)[] Cases =
    [
        ("bytes with a unit", ["Invoker__Profiles__a__MaxResponseBytes=10MiB"], "Invoker:Profiles:a:MaxResponseBytes: '10MiB' is not a whole number of bytes"),
        ("yes for a switch", ["Invoker__Profiles__a__AllowPrivateNetwork=yes"], "Invoker:Profiles:a:AllowPrivateNetwork: 'yes' is not true or false"),
        ("unknown source kind", ["Invoker__Profiles__a__ClientCertificate__Source=Pfx", "Invoker__Profiles__a__ClientCertificate__Path=x.pfx"], "Invoker:Profiles:a:ClientCertificate:Source: 'Pfx' is not one of KeyVault, File, Pem"),
        ("misspelt section", ["Invoker__Profiles__a__ClientCertificat__Source=File"], "Invoker:Profiles:a:ClientCertificat: unknown setting; did you mean 'ClientCertificate'?"),
        ("misspelt top-level switch", ["Invoker__AllowLoopbak=true"], "Invoker:AllowLoopbak: unknown setting; did you mean 'AllowLoopback'?"),
        ("misspelt password", ["Invoker__Profiles__a__ClientCertificate__Source=File", "Invoker__Profiles__a__ClientCertificate__Path=x.pfx", "Invoker__Profiles__a__ClientCertificate__Pasword=hunter2"], "Invoker:Profiles:a:ClientCertificate:Pasword: unknown setting; did you mean 'Password'?"),
        ("unknown credential", ["Invoker__Credential=Bogus"], "Invoker:Credential: 'Bogus' is not one of Auto, ManagedIdentity, AzureCli, Default"),
        ("zero request bytes", ["Invoker__MaxRequestBytes=0"], "Invoker:MaxRequestBytes: 0 is out of range"),
        ("negative warning days", ["Invoker__ExpiryWarningDays=-1"], "Invoker:ExpiryWarningDays: -1 is out of range"),
        ("url length not a number", ["Invoker__MaxUrlLength=long"], "Invoker:MaxUrlLength: 'long' is not a whole number"),
        ("allowed caller nobody has", ["Invoker__Profiles__a__AllowedCallers__0=nobody"], "Invoker:Profiles:a:AllowedCallers:0: no caller is named 'nobody'"),
        ("grant to a missing profile", ["Invoker__Callers__Grants__bot__0=paymnts"], "Invoker:Callers:Grants:bot:0: no profile is named 'paymnts'"),
        ("grant for a missing caller", ["Invoker__Callers__Grants__ghost__0=a"], "Invoker:Callers:Grants:ghost: no caller is named 'ghost'"),
        ("certificate mode without CA", ["Invoker__Callers__Mode=CertificateRequired", "Invoker__Callers__Certificates__bot__Subject=CN=bot"], "Invoker:Callers:CertificateAuthority: is missing"),
        ("unknown caller mode", ["Invoker__Callers__Mode=Sometimes"], "Invoker:Callers:Mode: 'Sometimes' is not one of KeyOnly, CertificateRequired, KeyOrCertificate"),
        ("caller certificates in key-only mode", ["Invoker__Callers__Certificates__bot__Subject=CN=bot"], "Invoker:Callers:Certificates: callers are identified by certificate, but Invoker:Callers:Mode is KeyOnly"),
        ("certificate mode listing no certificate", ["Invoker__Callers__Mode=KeyOrCertificate", "Invoker__Callers__CertificateAuthority__Source=File", "Invoker__Callers__CertificateAuthority__Path=ca.pem"], "Invoker:Callers:Certificates: is empty"),
        ("caller certificate without identity", ["Invoker__Callers__Mode=KeyOrCertificate", "Invoker__Callers__CertificateAuthority__Source=File", "Invoker__Callers__CertificateAuthority__Path=ca.pem", "Invoker__Callers__Certificates__partner__Thumbprint="], "Invoker:Callers:Certificates:partner: needs a Thumbprint"),
        ("SHA-1 caller thumbprint", ["Invoker__Callers__Mode=KeyOrCertificate", "Invoker__Callers__CertificateAuthority__Source=File", "Invoker__Callers__CertificateAuthority__Path=ca.pem", "Invoker__Callers__Certificates__partner__Thumbprint=A71BD7FFFCCA9A419618D4EB8020BA6F6A75E7D4"], "Invoker:Callers:Certificates:partner:Thumbprint: is not a SHA-256 thumbprint"),
        ("forwarded certificate on the standalone host", ["Invoker__Callers__TrustForwardedCertificate=true"], "Invoker:Callers:TrustForwardedCertificate: the standalone host would let any caller claim any certificate"),
        ("plain API key", ["Invoker__Callers__ApiKeys__bot=my-secret-key"], "Invoker:Callers:ApiKeys:bot: must be the SHA-256 of the key in hex"),
        ("short admin key hash", ["Invoker__Callers__AdminKeys__ops=abc123"], "Invoker:Callers:AdminKeys:ops: must be the SHA-256 of the key in hex"),
        ("profile without hosts", ["Invoker__Profiles__b__Timeout=10"], "Invoker:Profiles:b:Hosts: is empty"),
        ("host given as a URL", ["Invoker__Profiles__a__Hosts__0=https://a.contoso.com/api"], "Invoker:Profiles:a:Hosts:0: 'https://a.contoso.com/api' is not a host or host:port"),
        ("hosts not numbered", ["Invoker__Profiles__a__Hosts__first=b.contoso.com"], "Invoker:Profiles:a:Hosts:first: 'first' is not a list index"),
        ("host owned twice", ["Invoker__Profiles__b__Hosts__0=A.contoso.com:443"], "Invoker:Profiles:b:Hosts:0: profiles 'a' and 'b' both list a.contoso.com:443"),
        ("timeout over the load balancer limit", ["Invoker__Profiles__a__Timeout=300"], "Invoker:Profiles:a:Timeout: must be more than 0 and at most 230 seconds"),
        ("timeout in words", ["Invoker__Profiles__a__Timeout=soon"], "Invoker:Profiles:a:Timeout: 'soon' is neither seconds"),
        ("pin that is no digest", ["Invoker__Profiles__a__ServerCertificatePins__0=abc"], "Invoker:Profiles:a:ServerCertificatePins:0: is not a SHA-256 digest"),
        ("PFX without a path", ["Invoker__Profiles__a__ClientCertificate__Source=File"], "Invoker:Profiles:a:ClientCertificate:Path: is missing"),
        // Issue 34, item 8: a setting of another source kind would be ignored, silently.
        ("PEM path beside a CA file", ["Invoker__Profiles__a__TrustedCa__Source=File", "Invoker__Profiles__a__TrustedCa__Path=ca.pem", "Invoker__Profiles__a__TrustedCa__CertificatePath=other-ca.pem"],
            "Invoker:Profiles:a:TrustedCa:CertificatePath: belongs to Source=Pem and would be ignored with Source=File: remove it, or set Source=Pem if that is the source meant"),
        ("vault name beside a PFX", ["Invoker__Profiles__a__ClientCertificate__Source=File", "Invoker__Profiles__a__ClientCertificate__Path=c.pfx", "Invoker__Profiles__a__ClientCertificate__Name=c"],
            "Invoker:Profiles:a:ClientCertificate:Name: belongs to Source=KeyVault and would be ignored with Source=File"),
        ("key path for a trusted CA", ["Invoker__Profiles__a__TrustedCa__Source=Pem", "Invoker__Profiles__a__TrustedCa__CertificatePath=ca.pem", "Invoker__Profiles__a__TrustedCa__KeyPath=ca.key"],
            "Invoker:Profiles:a:TrustedCa:KeyPath: a trusted CA has no private key, so KeyPath would be ignored: remove it"),
        ("PEM without a key", ["Invoker__Profiles__a__ClientCertificate__Source=Pem", "Invoker__Profiles__a__ClientCertificate__CertificatePath=c.pem"], "Invoker:Profiles:a:ClientCertificate:KeyPath: is missing"),
        ("Key Vault over http", ["Invoker__Profiles__a__ClientCertificate__Source=KeyVault", "Invoker__Profiles__a__ClientCertificate__VaultUri=http://v.vault.azure.net/", "Invoker__Profiles__a__ClientCertificate__Name=c"], "Invoker:Profiles:a:ClientCertificate:VaultUri: must be the vault's https URI"),
        ("Key Vault without a name", ["Invoker__Profiles__a__ClientCertificate__Source=KeyVault", "Invoker__Profiles__a__ClientCertificate__VaultUri=https://v.vault.azure.net/"], "Invoker:Profiles:a:ClientCertificate:Name: is missing"),
        ("vault URI that is no URI", ["Invoker__Profiles__a__TrustedCa__Source=KeyVault", "Invoker__Profiles__a__TrustedCa__VaultUri=my-vault", "Invoker__Profiles__a__TrustedCa__Name=ca"], "Invoker:Profiles:a:TrustedCa:VaultUri: 'my-vault' is not an absolute URI"),
        ("source settings without a kind", ["Invoker__Profiles__a__TrustedCa__Path=ca.pem"], "Invoker:Profiles:a:TrustedCa:Source: is missing"),
        ("refresh faster than allowed", ["Invoker__CertificateRefreshInterval=5"], "Invoker:CertificateRefreshInterval: must be from 10 seconds to 24 hours"),
        ("refresh in words", ["Invoker__CertificateRefreshInterval=hourly"], "Invoker:CertificateRefreshInterval: 'hourly' is neither seconds"),
        ("profile name with a dot", ["Invoker__Profiles__my.profile__Hosts__0=m.contoso.com"], "Invoker:Profiles:my.profile: the profile name 'my.profile' is invalid"),
        ("client id that is no GUID", ["Invoker__ManagedIdentityClientId=my-identity"], "Invoker:ManagedIdentityClientId: 'my-identity' is not a client id"),
        ("base URL on a host the profile does not own", ["Invoker__Profiles__a__BaseUrl=https://b.contoso.com/v1"], "Invoker:Profiles:a:BaseUrl: its host:port b.contoso.com:443 is not one of the profile's Hosts"),
        ("misspelt base URL", ["Invoker__Profiles__a__BaseUlr=https://a.contoso.com/v1"], "Invoker:Profiles:a:BaseUlr: unknown setting; did you mean 'BaseUrl'?"),
        ("base URL over http", ["Invoker__Profiles__a__BaseUrl=http://a.contoso.com/v1"], "Invoker:Profiles:a:BaseUrl: is not an https URL: its scheme is 'http' (the rest is not shown)"),
        ("base URL with a query", ["Invoker__Profiles__a__BaseUrl=https://a.contoso.com/v1?key=1"], "Invoker:Profiles:a:BaseUrl: must have no query, fragment, user or backslash"),
        ("forwarded caller header that is no name", ["Invoker__Profiles__a__ForwardCallerHeaders__0=X Forwarded"], "Invoker:Profiles:a:ForwardCallerHeaders:0: 'X Forwarded' is not a header name"),
        ("value where a section belongs", ["Invoker__Profiles__a__ClientCertificate=client.pfx"], "Invoker:Profiles:a:ClientCertificate: is a section of settings, not a single value"),
        // Where a password or key gets pasted by mistake: named, never quoted (the test checks hunter2 appears nowhere).
        ("password pasted as the client certificate", ["Invoker__Profiles__a__ClientCertificate=hunter2"], "Invoker:Profiles:a:ClientCertificate: is a section of settings, not a single value (a value of 7 characters was given; not shown, as it may be a secret). Set its keys instead: Invoker:Profiles:a:ClientCertificate:Source"),
        ("key pasted as the API keys", ["Invoker__Callers__ApiKeys=hunter2"], "Invoker:Callers:ApiKeys: has its keys and also a value of its own (7 characters, not shown, as it may be a secret): remove the value."),
        ("secret pasted as the token source", ["Invoker__Profiles__a__Token=hunter2"], "Invoker:Profiles:a:Token: is a section of settings, not a single value (a value of 7 characters was given; not shown"),
        ("password pasted beside a certificate's keys", ["Invoker__Profiles__a__ClientCertificate__Source=File", "Invoker__Profiles__a__ClientCertificate__Path=x.pfx", "Invoker__Profiles__a__ClientCertificate=hunter2"], "Invoker:Profiles:a:ClientCertificate: has its keys and also a value of its own (7 characters, not shown, as it may be a secret): remove the value. A PFX password goes in Invoker:Profiles:a:ClientCertificate:Password."),
        ("certificate password without a source", ["Invoker__Profiles__a__ClientCertificate__Password=hunter2"], "Invoker:Profiles:a:ClientCertificate:Source: is missing"),
        ("token endpoint on a host a profile owns", Token("Endpoint=https://a.contoso.com/oauth2/token"), "Invoker:Profiles:a:Token:Endpoint: its host:port a.contoso.com:443 is listed in the Hosts of profile 'a', so callers could send their own token requests to it"),
        ("token endpoint over http", Token("Endpoint=http://a.contoso.com/token"), "Invoker:Profiles:a:Token:Endpoint: is not an https URL: its scheme is 'http' (the rest is not shown)"),
        ("token source without a client id", Token("ClientId="), "Invoker:Profiles:a:Token:ClientId: is missing"),
        ("token endpoint with a password in it", Token("Endpoint=http://bot:hunter2@login.contoso.com/token"), "Invoker:Profiles:a:Token:Endpoint: is not an https URL: its scheme is 'http' (the rest is not shown)"),
        ("token endpoint on a loopback alias of a profile's host", ["Invoker__Profiles__a__Hosts__0=127.0.0.1:9443", "Invoker__Profiles__a__Token__Endpoint=https://localhost:9443/token", "Invoker__Profiles__a__Token__ClientId=bot", "Invoker__Profiles__a__Token__ClientAuthentication=TlsClientAuth"], "Invoker:Profiles:a:Token:Endpoint: its host:port localhost:9443 (as 127.0.0.1:9443: the same loopback server) is listed in the Hosts of profile 'a'"),
        ("unknown client authentication", Token("ClientAuthentication=mTLS"), "Invoker:Profiles:a:Token:ClientAuthentication: 'mTLS' is not one of TlsClientAuth, SelfSignedTlsClientAuth, PrivateKeyJwt, ClientSecretBasic"),
        ("certificate authentication without a certificate", Token("ClientAuthentication=PrivateKeyJwt", "ClientSecret__Source=", "ClientSecret__Value="), "Invoker:Profiles:a:Token:ClientAuthentication: PrivateKeyJwt authenticates with the profile's client certificate, and the profile has none"),
        ("client secret authentication without a secret", Token("ClientSecret__Source=", "ClientSecret__Value="), "Invoker:Profiles:a:Token:ClientSecret: is missing"),
        ("client secret given as a value", Token("ClientSecret__Source=", "ClientSecret__Value=", "ClientSecret=hunter2"), "Invoker:Profiles:a:Token:ClientSecret: is a section of settings, not a single value (a value of 7 characters was given; not shown"),
        ("two scopes in one entry", Token("Scopes__0=payments:read payments:write"), "Invoker:Profiles:a:Token:Scopes:0: 'payments:read payments:write' is not one scope"),
        ("misspelt token setting", Token("ClientAuthentification=ClientSecretBasic"), "Invoker:Profiles:a:Token:ClientAuthentification: unknown setting; did you mean 'ClientAuthentication'?"),
    ];

    /// <summary>A complete token source on profile 'a' (client_secret_basic, the secret 'hunter2'), with <paramref name="changes"/> applied.</summary>
    private static string[] Token(params string[] changes)
    {
        var settings = new Dictionary<string, string>
        {
            ["Endpoint"] = "https://login.contoso.com/oauth2/token",
            ["ClientId"] = "bot-platform",
            ["ClientAuthentication"] = "ClientSecretBasic",
            ["ClientSecret__Source"] = "Setting",
            ["ClientSecret__Value"] = "hunter2",
        };
        foreach (var change in changes)
        {
            var at = change.IndexOf('=');
            settings[change[..at]] = change[(at + 1)..];
        }
        return settings.Where(s => s.Value.Length > 0).Select(s => $"Invoker__Profiles__a__Token__{s.Key}={s.Value}").ToArray();
    }

    public static TheoryData<string> Names() => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public async Task A_bad_setting_stops_the_real_host_with_exit_code_1_naming_it(string name)
    {
        var (_, settings, expected) = Cases.Single(c => c.Name == name);
        var environment = Base();
        foreach (var setting in settings)
        {
            var at = setting.IndexOf('=');
            environment[setting[..at]] = setting[(at + 1)..];
        }

        var outcome = await StandaloneProcess.RunAsync(environment);

        Assert.False(outcome.Listening, $"the host started serving: {outcome.Output}");
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains(expected, outcome.Error);
        Assert.StartsWith("The invoker did not start:", outcome.Error);
        Assert.DoesNotContain("   at ", outcome.Error + outcome.Output); // no stack trace
        Assert.DoesNotContain("hunter2", outcome.Error + outcome.Output);
        Assert.DoesNotContain("my-secret-key", outcome.Error + outcome.Output);
    }

    [Fact]
    public async Task Several_mistakes_are_listed_together()
    {
        var environment = Base();
        environment["Invoker__Profiles__a__MaxResponseBytes"] = "10MiB";
        environment["Invoker__Profiles__a__AllowPrivateNetwork"] = "yes";
        environment["Invoker__Credential"] = "Bogus";

        var outcome = await StandaloneProcess.RunAsync(environment);

        Assert.Equal(1, outcome.ExitCode);
        Assert.StartsWith("The invoker did not start: 3 configuration problems.", outcome.Error);
    }

    [Fact]
    public async Task A_misspelt_name_and_a_bad_value_are_both_listed()
    {
        var environment = Base();
        environment["Invoker__Profiles__a__ClientCertificat__Source"] = "File";
        environment["Invoker__Profiles__a__Timeout"] = "5m";

        var outcome = await StandaloneProcess.RunAsync(environment);

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("Invoker:Profiles:a:ClientCertificat: unknown setting; did you mean 'ClientCertificate'?", outcome.Error);
        Assert.Contains("Invoker:Profiles:a:Timeout: '5m' is neither seconds", outcome.Error);
    }

    [Fact]
    public async Task The_sample_local_settings_start_the_host()
    {
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(Tools.RepoRoot, "local.settings.sample.json")));
        var environment = sample.RootElement.GetProperty("Values").EnumerateObject()
            .Where(v => v.Name.StartsWith("Invoker__", StringComparison.Ordinal))
            .ToDictionary(v => v.Name, v => v.Value.GetString()!);
        environment["Invoker__Callers__ApiKeys__bot"] = Hash;
        environment["Invoker__Credential"] = "AzureCli"; // no sign-in probing in a test

        var outcome = await StandaloneProcess.RunAsync(environment);

        Assert.True(outcome.Listening, $"exit {outcome.ExitCode}: {outcome.Error}{outcome.Output}");
    }

    [Fact]
    public async Task The_documented_caller_certificate_configuration_starts_the_host()
    {
        var environment = Base();
        environment["Invoker__Profiles__a__AllowedCallers__0"] = "partner-bot";
        environment["Invoker__Callers__Mode"] = "KeyOrCertificate";
        environment["Invoker__Callers__CertificateAuthority__Source"] = "File";
        environment["Invoker__Callers__CertificateAuthority__Path"] = "/absolute/path/to/caller-root.pem";
        environment["Invoker__Callers__Certificates__partner-bot__Thumbprint"] = Thumbprint;
        environment["Invoker__Callers__Grants__bot__0"] = "a";
        environment["Invoker__Profiles__a__Timeout"] = "00:00:45";
        environment["Invoker__Profiles__a__ServerCertificatePins__0"] = "sha256/" + Convert.ToBase64String(new byte[32]);

        var outcome = await StandaloneProcess.RunAsync(environment);

        Assert.True(outcome.Listening, $"exit {outcome.ExitCode}: {outcome.Error}{outcome.Output}");
    }
}
