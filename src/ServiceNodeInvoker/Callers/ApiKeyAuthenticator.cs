using ServiceNodeInvoker.Settings;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// Checks API keys the way the Functions host does (<c>x-functions-key</c> header or <c>code</c>
/// query parameter) against SHA-256 hashes in configuration, in constant time. The hashes are those in force now
/// (<see cref="LiveCallerOptions"/>): a key added or revoked by a configuration change counts from the next request.
/// </summary>
internal sealed class ApiKeyAuthenticator
{
    public const string HeaderName = "x-functions-key";
    public const string QueryName = "code";

    private readonly LiveCallerOptions _options;
    private readonly Func<CallerOptions, IReadOnlyDictionary<string, string>> _select;
    private readonly string _setting;
    private volatile Parsed? _parsed;

    /// <summary>The keys of the caller settings in force, parsed once per settings instance.</summary>
    private sealed record Parsed(CallerOptions Of, (string Name, byte[] Hash)[] Keys);

    internal ApiKeyAuthenticator(CallerOptions options) : this(new LiveCallerOptions(options))
    {
    }

    /// <summary>Callers' keys: Invoker:Callers:ApiKeys.</summary>
    public ApiKeyAuthenticator(LiveCallerOptions options) : this(options, o => o.ApiKeys, "Invoker:Callers:ApiKeys")
    {
    }

    /// <param name="select">Which keys of the caller settings these are.</param>
    /// <param name="setting">Where the keys are configured, for error messages.</param>
    internal ApiKeyAuthenticator(LiveCallerOptions options, Func<CallerOptions, IReadOnlyDictionary<string, string>> select, string setting)
    {
        _options = options;
        _select = select;
        _setting = setting;
    }

    private (string Name, byte[] Hash)[] Keys
    {
        get
        {
            var current = _options.Current;
            var parsed = _parsed;
            if (parsed is null || !ReferenceEquals(parsed.Of, current))
            {
                parsed = new Parsed(current, _select(current).Select(k => (k.Key, ParseHash($"{_setting}:{k.Key}", k.Value))).ToArray());
                _parsed = parsed;
            }
            return parsed.Keys;
        }
    }

    public bool HasKeys => Keys.Length > 0;

    /// <summary>The caller's name when its key matches one configured, else null.</summary>
    public string? Authenticate(HttpContext context)
    {
        string? presented = context.Request.Headers[HeaderName];
        if (string.IsNullOrEmpty(presented))
        {
            presented = context.Request.Query[QueryName];
        }
        if (string.IsNullOrEmpty(presented) || presented.Length > 512)
        {
            return null;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? caller = null;
        foreach (var (name, expected) in Keys) // no early exit: timing does not tell which key matched
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected))
            {
                caller = name;
            }
        }
        return caller;
    }

    /// <summary>The hash to put in configuration for a key.</summary>
    public static string HashKey(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static byte[] ParseHash(string setting, string value) =>
        SettingParsers.TryParseSha256Hex(value, out var digest) ? digest
        : throw new InvalidOperationException($"{setting}: configuration was not validated.");
}
