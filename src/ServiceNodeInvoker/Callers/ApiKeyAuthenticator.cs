using ServiceNodeInvoker.Settings;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ServiceNodeInvoker.Callers;

/// <summary>
/// Checks API keys the way the Functions host does (<c>x-functions-key</c> header or <c>code</c>
/// query parameter) against SHA-256 hashes in configuration, in constant time.
/// </summary>
internal sealed class ApiKeyAuthenticator
{
    public const string HeaderName = "x-functions-key";
    public const string QueryName = "code";

    private readonly (string Name, byte[] Hash)[] _keys;

    public ApiKeyAuthenticator(CallerOptions options) : this(options.ApiKeys, "Invoker:Callers:ApiKeys")
    {
    }

    /// <param name="setting">Where the keys are configured, for error messages.</param>
    public ApiKeyAuthenticator(IReadOnlyDictionary<string, string> hashes, string setting)
    {
        _keys = hashes.Select(k => (k.Key, ParseHash($"{setting}:{k.Key}", k.Value))).ToArray();
    }

    public bool HasKeys => _keys.Length > 0;

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
        foreach (var (name, expected) in _keys) // no early exit: timing does not tell which key matched
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
