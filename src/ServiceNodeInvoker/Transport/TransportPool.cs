using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Profiles;
using System.Collections.Concurrent;

namespace ServiceNodeInvoker.Transport;

/// <summary>A held transport; dispose it when the response has been fully read or written.</summary>
internal readonly struct TransportLease(ProfileTransport transport) : IDisposable
{
    public ProfileTransport Transport => transport;

    public void Dispose() => transport?.Release();
}

/// <summary>
/// The current transport of each profile. A newer certificate generation replaces it, and so does a newer instance of
/// the profile (a configuration change); the old one drains. A request still holding a profile that a change retired
/// gets a transport of its own, built from what it started with and disposed when it ends.
/// </summary>
internal sealed class TransportPool(IBackendHandlers handlers) : IDisposable
{
    private readonly ConcurrentDictionary<string, ProfileTransport> _current = new(StringComparer.OrdinalIgnoreCase);
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TlsProfile, object> _retired = new();
    private readonly Lock _gate = new();

    public ProfileTransport? CurrentFor(string profile) => _current.GetValueOrDefault(profile);

    public TransportLease Acquire(TlsProfile profile, ProfileMaterial material)
    {
        while (true)
        {
            if (!_current.TryGetValue(profile.Name, out var transport) || !Serves(transport, profile, material))
            {
                lock (_gate)
                {
                    if (!_current.TryGetValue(profile.Name, out transport) || !Serves(transport, profile, material))
                    {
                        if (_retired.TryGetValue(profile, out _) || (transport is not null && transport.Profile.Revision > profile.Revision))
                        {
                            return OneOff(profile, material);
                        }
                        var fresh = new ProfileTransport(profile, material, handlers);
                        _current[profile.Name] = fresh;
                        transport?.Retire();
                        transport = fresh;
                    }
                }
            }
            // An older generation than the current one just uses the current (newer) transport.
            if (transport.TryAcquire())
            {
                return new TransportLease(transport);
            }
        }
    }

    /// <summary>The transport is this very profile's, with material at least as new.</summary>
    private static bool Serves(ProfileTransport transport, TlsProfile profile, ProfileMaterial material) =>
        ReferenceEquals(transport.Profile, profile) && transport.Material.Generation >= material.Generation;

    /// <summary>A transport for one request of a retired profile: not pooled, disposed when its lease ends.</summary>
    private TransportLease OneOff(TlsProfile profile, ProfileMaterial material)
    {
        var transport = new ProfileTransport(profile, material, handlers);
        transport.TryAcquire();
        transport.Retire();
        return new TransportLease(transport);
    }

    /// <summary>
    /// Retires the transports of profiles a configuration change took away (removed, or replaced by a changed
    /// instance): requests still on them finish, and each is disposed once drained.
    /// </summary>
    public void Retire(IEnumerable<TlsProfile> profiles)
    {
        lock (_gate)
        {
            foreach (var profile in profiles)
            {
                _retired.AddOrUpdate(profile, this);
                if (_current.TryGetValue(profile.Name, out var transport) && ReferenceEquals(transport.Profile, profile))
                {
                    _current.TryRemove(profile.Name, out _);
                    transport.Retire();
                }
            }
        }
    }

    /// <summary>
    /// Replaces <paramref name="transport"/> with a fresh one for the same material: its pooled connections
    /// are no longer trusted (an answer with broken framing may have left one desynchronised, even when the
    /// handler had already taken it back). Requests still on it finish; it is disposed once drained.
    /// </summary>
    public void Discard(ProfileTransport transport)
    {
        lock (_gate)
        {
            if (_current.TryGetValue(transport.Profile.Name, out var current) && ReferenceEquals(current, transport))
            {
                _current[transport.Profile.Name] = new ProfileTransport(transport.Profile, transport.Material, handlers);
                transport.Retire();
            }
        }
    }

    public void Dispose()
    {
        foreach (var transport in _current.Values)
        {
            transport.Retire();
        }
        _current.Clear();
    }
}
