using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace ServiceNodeInvoker.Profiles;

/// <summary>
/// What a concern keeps per <see cref="TlsProfile"/> instance (a certificate cache, a token cache), keyed by the instance
/// itself, never its name or an equal value: a configuration change adds instances for the profiles it brings
/// (<see cref="Add"/>) and retires those of the profiles it takes away (<see cref="Retire"/>); an unchanged profile keeps
/// its instance. A retired one still answers <see cref="TryGet"/> for the profile reference that requests resolved before
/// the change, and is disposed once those have run out of time: the profile's timeout plus the grace, on the
/// <see cref="TimeProvider"/> given.
/// </summary>
/// <typeparam name="T">What is kept; this set owns it and disposes it.</typeparam>
internal sealed class ProfileInstances<T> : IDisposable where T : class, IDisposable
{
    private readonly Lock _gate = new();
    private volatile Dictionary<TlsProfile, T> _current = new(ReferenceEqualityComparer.Instance);
    private readonly ConditionalWeakTable<TlsProfile, T> _retired = new();
    private readonly List<(T Instance, ITimer Disposal)> _retiring = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _grace;
    private bool _disposed;

    /// <param name="time">The clock the disposal of retired instances runs on.</param>
    /// <param name="grace">How long a retired instance still serves, beyond its profile's timeout.</param>
    public ProfileInstances(TimeProvider time, TimeSpan grace)
    {
        _time = time;
        _grace = grace;
    }

    /// <summary>The profile's instance: a current profile's, or a retired one's while requests that resolved it may still run.</summary>
    public bool TryGet(TlsProfile profile, [MaybeNullWhen(false)] out T instance) =>
        _current.TryGetValue(profile, out instance) || _retired.TryGetValue(profile, out instance);

    /// <summary>Every current profile's instance (not the retired ones).</summary>
    public IReadOnlyCollection<T> Current => _current.Values;

    /// <summary>
    /// Instances for the profiles that have none yet (a profile reference already here keeps its own), made by
    /// <paramref name="create"/> under this set's lock, one at a time: what it alone touches needs no lock of its own.
    /// </summary>
    /// <returns>The instances made, in the order of <paramref name="profiles"/>.</returns>
    public IReadOnlyList<T> Add(IEnumerable<TlsProfile> profiles, Func<TlsProfile, T> create)
    {
        List<T> added = [];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var next = new Dictionary<TlsProfile, T>(_current, ReferenceEqualityComparer.Instance);
            foreach (var profile in profiles)
            {
                if (!next.ContainsKey(profile))
                {
                    var instance = create(profile);
                    next[profile] = instance;
                    added.Add(instance);
                }
            }
            _current = next;
        }
        return added;
    }

    /// <summary>
    /// Retires the instances of profiles no new request resolves (removed, or replaced by a changed instance): they
    /// leave <see cref="Current"/> but <see cref="TryGet"/> still finds them by the retired profile reference, and each
    /// is disposed once its profile's timeout and the grace have passed.
    /// </summary>
    public void Retire(IEnumerable<TlsProfile> profiles)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return; // everything was disposed already: no timer to start
            }
            var next = new Dictionary<TlsProfile, T>(_current, ReferenceEqualityComparer.Instance);
            foreach (var profile in profiles)
            {
                if (!next.Remove(profile, out var instance))
                {
                    continue;
                }
                _retired.AddOrUpdate(profile, instance);
                // Armed only once listed, so a disposal that fires at once finds it.
                var disposal = _time.CreateTimer(DisposeRetired, instance, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _retiring.Add((instance, disposal));
                disposal.Change(profile.Timeout + _grace, Timeout.InfiniteTimeSpan);
            }
            _current = next;
        }
    }

    private void DisposeRetired(object? state)
    {
        var instance = (T)state!;
        lock (_gate)
        {
            var at = _retiring.FindIndex(r => ReferenceEquals(r.Instance, instance));
            if (at < 0)
            {
                return;
            }
            _retiring[at].Disposal.Dispose();
            _retiring.RemoveAt(at);
        }
        instance.Dispose();
    }

    /// <summary>Disposes every instance, current and retiring, and stops the retired ones' timers.</summary>
    public void Dispose()
    {
        List<T> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _current.Values, .. _retiring.Select(r => r.Instance)];
            foreach (var (_, disposal) in _retiring)
            {
                disposal.Dispose();
            }
            _retiring.Clear();
        }
        foreach (var instance in all)
        {
            instance.Dispose();
        }
    }
}
