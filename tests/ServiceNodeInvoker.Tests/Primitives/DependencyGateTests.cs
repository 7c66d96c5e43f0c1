using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Tests.Primitives;

/// <summary>
/// The one gate in front of a dependency (a vault, a token endpoint), directly, on a fake clock: it bounds the requests in
/// flight, holds every caller for the one pause a throttle asks for (only ever extended), lets a caller that cannot wait
/// skip instead of queueing, and — where asked — spaces the requests after a throttle, halving the spacing per answer.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class DependencyGateTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    private static TimeSpan RetryAfterPlusSecond(int throttles, TimeSpan? retryAfter, double random) =>
        (retryAfter ?? TimeSpan.Zero) + TimeSpan.FromSeconds(random);

    [Fact]
    public async Task No_more_requests_than_allowed_are_in_flight_and_a_freed_slot_goes_to_the_next()
    {
        var gate = new DependencyGate(new("vault", MaxInFlight: 2, RetryAfterPlusSecond), _time);
        var first = await gate.EnterAsync(CancellationToken.None);
        var second = await gate.EnterAsync(CancellationToken.None);
        var third = gate.EnterAsync(CancellationToken.None);
        Assert.False(third.IsCompleted);

        first.Dispose();
        first.Dispose(); // twice frees one slot, not two
        (await third).Dispose();
        var fourth = gate.EnterAsync(CancellationToken.None);
        await fourth;
        Assert.False(gate.EnterAsync(CancellationToken.None).IsCompleted);
        second.Dispose();
    }

    [Fact]
    public async Task A_throttle_holds_every_caller_for_its_retry_after_and_a_caller_that_cannot_wait_skips()
    {
        var gate = new DependencyGate(new("vault", MaxInFlight: 2, RetryAfterPlusSecond), _time, random: () => 0.5);
        gate.Throttled(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(10.5), gate.PauseLeft); // the Retry-After, plus the jitter drawn

        using var patience = new CancellationTokenSource();
        var waiting = gate.TryEnterAsync(patience.Token);
        Assert.Null(await gate.TryEnterAsync(CancellationToken.None)); // a background read nobody waits for: not made
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(0.5));
        using var slot = await waiting;
        Assert.NotNull(slot);
    }

    [Fact]
    public void A_pause_is_only_ever_extended_and_an_answer_starts_the_count_of_throttles_again()
    {
        var throttles = new List<int>();
        var gate = new DependencyGate(new("vault", 2, (n, after, _) =>
        {
            throttles.Add(n);
            return after ?? TimeSpan.Zero;
        }), _time, random: () => 0);
        gate.Throttled(TimeSpan.FromSeconds(30));
        gate.Throttled(TimeSpan.FromSeconds(5)); // a shorter Retry-After from a later refusal does not cut the pause short
        Assert.Equal(TimeSpan.FromSeconds(30), gate.PauseLeft);
        gate.Answered();
        gate.Throttled(null);
        Assert.Equal(new[] { 1, 2, 1 }, throttles);
    }

    [Fact]
    public async Task After_a_throttle_requests_are_spaced_and_the_spacing_halves_with_each_answer_until_it_goes()
    {
        var gate = new DependencyGate(new("token endpoint", MaxInFlight: 1, (_, _, _) => TimeSpan.FromSeconds(2), SpaceAfterThrottle: true), _time,
            random: () => 0);
        gate.Throttled(TimeSpan.FromSeconds(1)); // paused 2 s (the policy's), then spaced by the 1 s Retry-After
        Assert.Equal(TimeSpan.FromSeconds(2), gate.PauseLeft);
        _time.Advance(TimeSpan.FromSeconds(2));
        (await gate.EnterAsync(CancellationToken.None)).Dispose();
        gate.Answered(); // spacing 1 s → 0.5 s
        Assert.Equal(TimeSpan.FromSeconds(0.5), gate.PauseLeft);
        _time.Advance(TimeSpan.FromSeconds(0.5));
        (await gate.EnterAsync(CancellationToken.None)).Dispose();
        gate.Answered(); // 0.25 s
        gate.Answered(); // 0.125 s
        gate.Answered(); // below 0.1 s: gone
        Assert.Equal(TimeSpan.Zero, gate.PauseLeft);
    }

    [Fact]
    public async Task A_gate_without_spacing_lets_requests_through_back_to_back_once_the_pause_is_over()
    {
        var gate = new DependencyGate(new("vault", MaxInFlight: 1, (_, _, _) => TimeSpan.FromSeconds(1)), _time, random: () => 0);
        gate.Throttled(TimeSpan.FromSeconds(5)); // a spacing gate would space by these 5 s; this one only pauses
        _time.Advance(TimeSpan.FromSeconds(1));
        (await gate.EnterAsync(CancellationToken.None)).Dispose();
        Assert.Equal(TimeSpan.Zero, gate.PauseLeft);
    }

    [Fact]
    public async Task A_throttle_without_Retry_After_spaces_by_the_pause()
    {
        var gate = new DependencyGate(new("token endpoint", MaxInFlight: 1, (_, _, _) => TimeSpan.FromSeconds(3), SpaceAfterThrottle: true), _time,
            random: () => 0);
        gate.Throttled(null);
        _time.Advance(TimeSpan.FromSeconds(3));
        (await gate.EnterAsync(CancellationToken.None)).Dispose();
        Assert.Equal(TimeSpan.FromSeconds(3), gate.PauseLeft);
    }
}
