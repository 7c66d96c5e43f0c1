using System.Diagnostics.Metrics;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Telemetry;

namespace ServiceNodeInvoker.Tests.Certificates;

/// <summary>
/// A cold request against a throttling vault (issue 33): the real SecretClient against the Key Vault fake, our clock a
/// FakeTimeProvider so every wait is ours to move. A request waits for the load in flight up to its own deadline, the load
/// retries 429s and 5xx no sooner than Retry-After, definitive refusals are answered at once, and one load serves every
/// waiting request.
/// </summary>
public sealed class VaultThrottlingTests : IAsyncDisposable
{
    private static readonly TestPki Pki = TestPki.Instance;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly List<IDisposable> _owned = [];
    private KeyVaultFake _vault = null!;

    private async Task<KeyVaultFake> VaultAsync(params string[] names)
    {
        _vault = await KeyVaultFake.StartAsync();
        _vault.Clock = _time;
        foreach (var name in names)
        {
            _vault.SetPkcs12(name, Pki.ClientRsa, Pki.IntermediatePublic);
        }
        return _vault;
    }

    /// <summary>A profile's cache reading <paramref name="name"/> through the real SDK clients, sharing <paramref name="gate"/> (one per vault).</summary>
    private CertificateCache Cache(string name, ServiceNodeInvoker.Primitives.DependencyGate gate)
    {
        var secrets = new SecretClient(_vault.VaultUri, new StaticTokenCredential(), _vault.ClientOptions());
        var certificates = new CertificateClient(_vault.VaultUri, new StaticTokenCredential(), _vault.CertificateClientOptions());
        var source = new KeyVaultCertificateSource(secrets, certificates, name, null, CertificateRole.Client, gate);
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _owned.Add(services);
        var telemetry = new InvokerTelemetry(services.GetRequiredService<IMeterFactory>());
        var cache = new CertificateCache(new CertificateOwner(name, $"profile '{name}'", $"The trusted CA of profile '{name}'", null, null),
            source, null, new RefreshPolicy(RefreshPolicy.DefaultInterval),
            new CertificateWarnings(30, _time, NullLogger<CertificateWarnings>.Instance), telemetry, _time, NullLogger.Instance);
        _owned.Add(cache);
        return cache;
    }

    private ServiceNodeInvoker.Primitives.DependencyGate Gate() => new(KeyVaultClients.GateOptions, _time);

    /// <summary>
    /// Moves our clock in small steps until the task completes (each step lets the due waits run and their reads go), but only
    /// while no read is in flight at the vault: a read takes real time (a connection, a TLS handshake, the token challenge), and
    /// a clock moved a step every poll meanwhile would spend the waiting requests' deadline on it — on a loaded machine a
    /// second of real time is a dozen seconds of ours, and a 30 s deadline ran out before the retries were due.
    /// </summary>
    private async Task<T> DriveAsync<T>(Task<T> task, TimeSpan step, string what)
    {
        await Poll.UntilAsync(() =>
        {
            if (!task.IsCompleted && _vault.ReadsInFlight == 0)
            {
                _time.Advance(step);
            }
            return task.IsCompleted;
        }, what);
        return await task;
    }

    [Fact]
    public async Task A_cold_request_waits_through_429s_no_sooner_than_retry_after_and_gets_the_certificate()
    {
        var vault = await VaultAsync("bot-client");
        vault.RetryAfterSeconds = 3;
        vault.ThrottleNext = 2;
        var cache = Cache("bot-client", Gate());

        var request = cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask();
        var material = await DriveAsync(request, TimeSpan.FromMilliseconds(100), "the certificate after two 429s");

        Assert.Equal(Pki.ClientRsa.Subject, material.Client!.Subject);
        Assert.Equal((3, 2), (vault.SecretGets, vault.Throttled)); // two refused, one served: no read beyond them
        Assert.Equal(0, vault.CertificateGets); // a cold load reads the secret alone
        var at = vault.Requests.Select(r => r.At).ToList();
        Assert.All(at.Zip(at.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(3),
            $"a read {(pair.Second - pair.First).TotalSeconds:0.0} s after a 429 with Retry-After: 3")); // and the spread on top: not in lockstep
    }

    [Fact]
    public async Task A_vault_that_throttles_past_the_request_deadline_is_answered_at_once_as_throttling_with_retry_after()
    {
        var vault = await VaultAsync("bot-client");
        vault.RetryAfterSeconds = 45;
        vault.ThrottleNext = 1000;
        var cache = Cache("bot-client", Gate());

        // Retry-After 45 s is beyond a 30 s deadline: no point waiting; the clock never moves here.
        var error = await Assert.ThrowsAsync<InvokerException>(() => cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask());
        Assert.Equal(ErrorCodes.CertificateUnavailable, error.Code);
        Assert.Equal(FailureCauses.VaultThrottled, error.Cause);
        Assert.InRange(error.RetryAfterSeconds!.Value, 45, 46 + (int)LoadBackoff.FirstSpread.TotalSeconds);
        Assert.Contains("throttling", error.Message);

        // A second request meanwhile is answered the same way without asking the vault again.
        var again = await Assert.ThrowsAsync<InvokerException>(() => cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask());
        Assert.Equal(FailureCauses.VaultThrottled, again.Cause);
        Assert.Equal(1, vault.SecretGets);
    }

    [Fact]
    public async Task A_request_gives_up_at_its_own_deadline_while_the_vault_keeps_failing()
    {
        var vault = await VaultAsync("bot-client");
        vault.Behaviour = VaultBehaviour.ServerError;
        var cache = Cache("bot-client", Gate());

        var request = cache.GetAsync(TimeSpan.FromSeconds(10), CancellationToken.None).AsTask();
        var started = _time.GetUtcNow();
        var error = await Assert.ThrowsAsync<InvokerException>(() => DriveAsync(request, TimeSpan.FromMilliseconds(500), "the request's deadline"));

        Assert.Equal(FailureCauses.CertificateLoadFailed, error.Cause);
        Assert.Contains("failed (500", error.Message);
        Assert.NotNull(error.RetryAfterSeconds);
        Assert.InRange(_time.GetUtcNow() - started, TimeSpan.Zero, TimeSpan.FromSeconds(11)); // not a moment past its deadline
        Assert.InRange(vault.SecretGets, 3, 40); // it kept trying, with backoff: not a request per step
    }

    [Theory]
    [InlineData("forbidden", "Key Vault Secrets User")]
    [InlineData("missing", "has no certificate")]
    public async Task Definitive_refusals_are_answered_at_once_and_not_retried(string failure, string named)
    {
        var vault = await VaultAsync(failure == "forbidden" ? ["bot-client"] : []);
        vault.ForbidSecrets = failure == "forbidden";
        var cache = Cache("bot-client", Gate());

        // The clock never moves: an answer that waited for a retry could not come.
        var first = await Assert.ThrowsAsync<InvokerException>(() => cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask());
        var second = await Assert.ThrowsAsync<InvokerException>(() => cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask());

        Assert.Equal(FailureCauses.CertificateLoadFailed, first.Cause);
        Assert.Contains(named, first.Message);
        Assert.Null(first.RetryAfterSeconds);
        Assert.Equal(first.Message, second.Message);
        Assert.Equal(1, vault.SecretGets); // asked once: the second request got the same answer
    }

    [Fact]
    public async Task Fifty_waiting_requests_share_one_load_across_its_retries()
    {
        var vault = await VaultAsync("bot-client");
        vault.RetryAfterSeconds = 1;
        vault.ThrottleNext = 2;
        var cache = Cache("bot-client", Gate());

        var requests = Enumerable.Range(0, 50).Select(_ => cache.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask()).ToList();
        var all = Task.WhenAll(requests);
        var materials = await DriveAsync(all, TimeSpan.FromMilliseconds(250), "every request's certificate");

        Assert.Single(materials.Distinct());
        Assert.Equal(3, vault.SecretGets); // 429, 429, 200: one read at a time for all fifty
    }

    [Fact]
    public async Task A_429_for_one_profile_holds_back_the_other_profiles_of_the_instance_on_that_vault()
    {
        var vault = await VaultAsync("first", "second");
        vault.RetryAfterSeconds = 2;
        var gate = Gate();
        var first = Cache("first", gate);
        var second = Cache("second", gate);

        vault.ThrottleNext = 1;
        var one = first.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask();
        // Until the 429 has reached the instance, a read of another profile cannot know of it: wait for the gate to hear it.
        await Poll.UntilAsync(() => gate.PauseLeft > TimeSpan.Zero, "the 429 to pause the vault's gate");
        var refusedAt = vault.Requests.Single().At;
        var two = second.GetAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask();
        await DriveAsync(Task.WhenAll(one, two), TimeSpan.FromMilliseconds(100), "both certificates");

        Assert.Equal(3, vault.SecretGets);
        // The second profile never met the 429 itself, yet waited out the vault's Retry-After too.
        Assert.All(vault.Requests.Skip(1), r => Assert.True(r.At - refusedAt >= TimeSpan.FromSeconds(2), $"a read {(r.At - refusedAt).TotalSeconds:0.0} s after the 429"));
    }

    [Fact]
    public void Backoff_is_at_least_retry_after_and_its_random_spread_doubles_up_to_its_cap()
    {
        var retryAfter = TimeSpan.FromSeconds(1);
        for (var failures = 1; failures <= 8; failures++)
        {
            var spread = LoadBackoff.Spread(failures);
            Assert.Equal(retryAfter, LoadBackoff.Delay(failures, retryAfter, 0));
            Assert.Equal(retryAfter + spread * 0.999, LoadBackoff.Delay(failures, retryAfter, 0.999));
            Assert.Equal(TimeSpan.FromSeconds(Math.Min(8, Math.Pow(2, failures - 1))), spread);
        }
        Assert.Equal(LoadBackoff.MinimumWait, LoadBackoff.Delay(1, null, 0)); // a 5xx without Retry-After
        Assert.Equal(LoadBackoff.MaxRetryAfter, LoadBackoff.Delay(1, TimeSpan.FromHours(1), 0)); // an hour is the background refresh's job
    }

    [Fact]
    public void Refreshes_of_instances_started_together_spread_over_a_fifth_of_the_interval()
    {
        var policy = new RefreshPolicy(TimeSpan.FromHours(1));
        var delays = Enumerable.Range(0, 2000).Select(_ => policy.AfterSuccess()).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMinutes(54), TimeSpan.FromMinutes(66)));
        Assert.True(delays.Max() - delays.Min() > TimeSpan.FromMinutes(10), "2,000 instances refresh within 12 minutes of each other, not in the same second");
        Assert.True(delays.Distinct().Count() > 1990);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
        if (_vault is not null)
        {
            await _vault.DisposeAsync();
        }
    }
}
