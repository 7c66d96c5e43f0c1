using System.Globalization;

namespace ServiceNodeInvoker.Settings;

/// <summary>
/// The value formats settings use, parsed in one place. Each returns false (never throws) so the
/// start-up checks can list every problem; code past validation uses the throwing forms.
/// </summary>
internal static class SettingParsers
{
    /// <summary>Seconds (<c>"30"</c>, <c>"2.5"</c>) or a time span (<c>"00:00:30"</c>).</summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!double.IsFinite(seconds) || Math.Abs(seconds) > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }
        return text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A duration setting that has passed validation; <paramref name="fallback"/> when unset.</summary>
    public static TimeSpan Duration(string? text, TimeSpan fallback) =>
        string.IsNullOrWhiteSpace(text) ? fallback
        : TryParseDuration(text, out var value) ? value
        : throw new InvalidOperationException($"'{text}' is not a duration: configuration was not validated.");

    /// <summary>A SHA-256 digest in hex (64 digits; colons, spaces and a <c>sha256:</c> prefix allowed).</summary>
    public static bool TryParseSha256Hex(string? text, out byte[] digest)
    {
        digest = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var hex = text.Trim();
        if (hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[7..];
        }
        hex = hex.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
        {
            return false;
        }
        digest = Convert.FromHexString(hex);
        return true;
    }

    /// <summary>The canonical form of a SHA-256 hex setting: upper case, no separators.</summary>
    public static string Sha256Hex(string text) =>
        TryParseSha256Hex(text, out var digest) ? Convert.ToHexString(digest)
        : throw new InvalidOperationException("not a SHA-256 digest: configuration was not validated.");

    /// <summary>A certificate pin: <c>sha256/BASE64</c>, base64 or hex of a SHA-256 digest.</summary>
    public static bool TryParsePin(string? text, out byte[] digest)
    {
        digest = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var value = text.Trim();
        if (value.StartsWith("sha256/", StringComparison.OrdinalIgnoreCase))
        {
            value = value["sha256/".Length..];
        }
        if (TryParseSha256Hex(value, out digest))
        {
            return true;
        }
        var bytes = new byte[32];
        if (Convert.TryFromBase64String(value, bytes, out var written) && written == 32)
        {
            digest = bytes;
            return true;
        }
        return false;
    }

    public static byte[] Pin(string text) =>
        TryParsePin(text, out var digest) ? digest : throw new InvalidOperationException("not a pin: configuration was not validated.");
}
