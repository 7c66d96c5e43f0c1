using Microsoft.Extensions.Time.Testing;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Profiles;

/// <summary>
/// What the certificate and token stores keep per profile instance, directly, on a fake clock: a retired profile's
/// instance still serves the requests that resolved that profile until its timeout and the grace have passed, then is
/// disposed; it is found by the old profile reference only, never handed to an equal new one; disposing the whole set
/// disposes everything and leaves no timer running.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class ProfileInstancesTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private readonly TimerCountingTime _time = new();

    private static TlsProfile Profile(string name, int timeoutSeconds = 5) => new()
    {
        Name = name,
        Hosts = new HashSet<HostKey>(),
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
    };

    [Fact]
    public void A_retired_instance_serves_its_profile_until_the_timeout_and_grace_have_passed_then_is_disposed()
    {
        using var set = new ProfileInstances<Kept>(_time, Grace);
        var payments = Profile("payments", timeoutSeconds: 5);
        var orders = Profile("orders");
        set.Add([payments, orders], p => new Kept(p.Name));
        Assert.True(set.TryGet(payments, out var kept));

        set.Retire([payments]);

        Assert.Equal(["orders"], set.Current.Select(k => k.Name)); // out of health and metrics at once
        _time.Advance(TimeSpan.FromSeconds(14.9)); // the profile's 5 s timeout plus the 10 s grace not yet over
        Assert.Equal(0, kept.Disposals);
        Assert.True(set.TryGet(payments, out var inFlight)); // a request that resolved payments before the change
        Assert.Same(kept, inFlight);

        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(1, kept.Disposals);
        Assert.Equal(0, _time.LiveTimers);
        Assert.True(set.TryGet(orders, out var other));
        Assert.Equal(0, other.Disposals);
    }

    [Fact]
    public void An_equal_new_profile_gets_its_own_instance_and_the_old_reference_keeps_the_retiring_one()
    {
        using var set = new ProfileInstances<Kept>(_time, Grace);
        var before = Profile("payments");
        set.Add([before], p => new Kept(p.Name));
        Assert.Empty(set.Add([before], p => new Kept(p.Name))); // a reference already here keeps its instance
        Assert.True(set.TryGet(before, out var old));

        var after = Profile("payments"); // a configuration change: same name and settings, a new instance
        var added = Assert.Single(set.Add([after], p => new Kept(p.Name)));
        set.Retire([before]);

        Assert.True(set.TryGet(after, out var current));
        Assert.Same(added, current);
        Assert.NotSame(old, current);
        Assert.True(set.TryGet(before, out var retiring)); // the request still running on the old profile
        Assert.Same(old, retiring);
        Assert.Same(current, Assert.Single(set.Current));
        Assert.False(set.TryGet(Profile("payments"), out _)); // an equal profile never added has nothing

        _time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(1, old.Disposals);
        Assert.Equal(0, current.Disposals);
    }

    [Fact]
    public void Retiring_twice_or_a_profile_never_added_starts_no_second_disposal()
    {
        using var set = new ProfileInstances<Kept>(_time, Grace);
        var payments = Profile("payments");
        set.Add([payments], p => new Kept(p.Name));
        set.TryGet(payments, out var kept);

        set.Retire([payments, Profile("unknown")]);
        set.Retire([payments]);
        Assert.Equal(1, _time.LiveTimers);

        _time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(1, kept!.Disposals);
        Assert.Equal(0, _time.LiveTimers);
    }

    [Fact]
    public void Disposing_the_set_disposes_current_and_retiring_instances_at_once_and_stops_every_timer()
    {
        var set = new ProfileInstances<Kept>(_time, Grace);
        var payments = Profile("payments", timeoutSeconds: 30);
        var orders = Profile("orders", timeoutSeconds: 60);
        set.Add([payments, orders], p => new Kept(p.Name));
        set.TryGet(payments, out var retiring);
        set.TryGet(orders, out var current);
        set.Retire([payments]);
        Assert.Equal(1, _time.LiveTimers);

        set.Dispose();

        Assert.Equal(1, retiring!.Disposals); // not left to its timer
        Assert.Equal(1, current!.Disposals);
        Assert.Equal(0, _time.LiveTimers);
        set.Retire([orders]); // a change racing shutdown starts nothing
        Assert.Equal(0, _time.LiveTimers);
        Assert.Throws<ObjectDisposedException>(() => set.Add([Profile("late")], p => new Kept(p.Name)));

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, retiring.Disposals);
        Assert.Equal(1, current.Disposals);
    }

    private sealed class Kept(string name) : IDisposable
    {
        private int _disposals;

        public string Name => name;
        public int Disposals => Volatile.Read(ref _disposals);

        public void Dispose() => Interlocked.Increment(ref _disposals);
    }

    /// <summary>A fake clock that counts the timers created on it and not yet disposed.</summary>
    private sealed class TimerCountingTime : FakeTimeProvider
    {
        private int _live;

        public TimerCountingTime() : base(DateTimeOffset.UtcNow)
        {
        }

        public int LiveTimers => Volatile.Read(ref _live);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _live);
            return new Counted(base.CreateTimer(callback, state, dueTime, period), this);
        }

        private sealed class Counted(ITimer inner, TimerCountingTime owner) : ITimer
        {
            private int _disposed;

            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Decrement(ref owner._live);
                }
                inner.Dispose();
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
