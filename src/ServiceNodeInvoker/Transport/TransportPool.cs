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

/// <summary>The current transport of each profile. A newer certificate generation replaces it; the old one drains.</summary>
internal sealed class TransportPool(IBackendHandlers handlers) : IDisposable
{
    private readonly ConcurrentDictionary<string, ProfileTransport> _current = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _gate = new();

    public ProfileTransport? CurrentFor(string profile) => _current.GetValueOrDefault(profile);

    public TransportLease Acquire(TlsProfile profile, ProfileMaterial material)
    {
        while (true)
        {
            if (!_current.TryGetValue(profile.Name, out var transport) || transport.Material.Generation < material.Generation)
            {
                lock (_gate)
                {
                    if (!_current.TryGetValue(profile.Name, out transport) || transport.Material.Generation < material.Generation)
                    {
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
