using System.Text;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Transport;

/// <summary>What kind of bytes a server sent in answer to our TLS hello.</summary>
internal enum FlightKind
{
    /// <summary>Nothing at all.</summary>
    Nothing,

    /// <summary>TLS records.</summary>
    Tls,

    /// <summary>An HTTP status line or an HTML error page: a plain-HTTP port.</summary>
    PlainHttp,

    /// <summary>Other bytes: another protocol's banner or answer.</summary>
    NotTls,
}

/// <summary>A TLS alert (RFC 8446 §6, RFC 5246 §7.2) by its description code.</summary>
internal readonly record struct TlsAlert(byte Description)
{
    public string Name => Description switch
    {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => $"alert {Description}",
    };

    /// <summary>The alert's code from OpenSSL's name for a received alert ("tlsv1 alert unknown ca" → unknown_ca).</summary>
    public static TlsAlert? FromOpenSslName(string words)
    {
        var name = words.Trim().Replace(' ', '_');
        for (var code = 0; code < 256; code++)
        {
            var alert = new TlsAlert((byte)code);
            if (alert.Name == name)
            {
                return alert;
            }
        }
        return name == "unrecognized_name" ? new TlsAlert(112) : null;
    }

    /// <summary>Alerts a server sends about the client's certificate.</summary>
    public bool IsAboutClientCertificate => Description is 42 or 43 or 44 or 45 or 46 or 48 or 49 or 116;
}

/// <summary>
/// The server's side of a handshake as far as it can be read without keys: the record kinds, the
/// ServerHello's version, whether it asked for a client certificate (visible under TLS 1.2; encrypted
/// under 1.3), a plaintext alert, or — when the bytes are not TLS at all — their first line.
/// </summary>
internal sealed record ServerFlight(FlightKind Kind, int Bytes)
{
    /// <summary>The version the server chose (0x0301 TLS 1.0 … 0x0304 TLS 1.3), from its ServerHello.</summary>
    public int? HelloVersion { get; init; }

    /// <summary>The server sent a CertificateRequest in the clear (TLS 1.2 and older).</summary>
    public bool CertificateRequested { get; init; }

    /// <summary>The CAs that CertificateRequest named as accepted for client certificates (empty: it named none).</summary>
    public IReadOnlyList<string> AcceptableIssuers { get; init; } = [];

    /// <summary>A plaintext alert from the server, and whether it came before its ServerHello.</summary>
    public TlsAlert? Alert { get; init; }

    public bool AlertBeforeHello { get; init; }

    /// <summary>For non-TLS bytes: the first line, escaped, at most 60 of its characters.</summary>
    public string? Preview { get; init; }

    public static string VersionName(int version) => version switch
    {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => $"0x{version:x4}",
    };

    public static ServerFlight Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return new ServerFlight(FlightKind.Nothing, 0);
        }
        if (!LooksLikeTlsRecord(bytes))
        {
            var preview = FirstLine(bytes);
            // An HTTP server answers our hello with a 400: a status line, or (Python's http.server, taking the
            // hello for an HTTP/0.9 request) the error page alone.
            return bytes.StartsWith("HTTP/"u8) || StartsWithIgnoringCase(bytes, "<!DOCTYPE HTML"u8) || StartsWithIgnoringCase(bytes, "<HTML"u8)
                ? new ServerFlight(FlightKind.PlainHttp, bytes.Length) { Preview = preview }
                : new ServerFlight(FlightKind.NotTls, bytes.Length) { Preview = preview };
        }
        int? version = null;
        var certificateRequested = false;
        IReadOnlyList<string> issuers = [];
        TlsAlert? alert = null;
        var handshake = new List<byte>();
        var encrypted = false;
        for (var at = 0; at + 5 <= bytes.Length && !encrypted;)
        {
            var type = bytes[at];
            var length = bytes[at + 3] << 8 | bytes[at + 4];
            var payload = bytes.Slice(at + 5, Math.Min(length, bytes.Length - at - 5));
            at += 5 + length;
            switch (type)
            {
                case 0x16:
                    handshake.AddRange(payload);
                    break;
                case 0x15 when payload.Length >= 2 && alert is null:
                    alert = new TlsAlert(payload[1]);
                    break;
                case 0x14 or 0x17:
                    encrypted = true; // what follows ChangeCipherSpec or application data cannot be read without keys
                    break;
            }
        }
        // Handshake messages: type (1), length (3), body.
        var messages = handshake.ToArray().AsSpan();
        for (var at = 0; at + 4 <= messages.Length;)
        {
            var type = messages[at];
            var length = messages[at + 1] << 16 | messages[at + 2] << 8 | messages[at + 3];
            var body = messages.Slice(at + 4, Math.Min(length, messages.Length - at - 4));
            at += 4 + length;
            if (type == 2 && body.Length >= 2)
            {
                version = SelectedVersion(body);
            }
            else if (type == 13)
            {
                certificateRequested = true;
                issuers = CertificateAuthorities(body);
            }
        }
        return new ServerFlight(FlightKind.Tls, bytes.Length)
        {
            HelloVersion = version,
            CertificateRequested = certificateRequested,
            AcceptableIssuers = issuers,
            Alert = alert,
            AlertBeforeHello = alert is not null && version is null,
        };
    }

    /// <summary>
    /// The certificate_authorities of a TLS 1.2 CertificateRequest (RFC 5246 §7.4.4): certificate_types&lt;1..255&gt;,
    /// supported_signature_algorithms&lt;2..2^16-2&gt;, then DistinguishedName certificate_authorities&lt;0..2^16-1&gt;. A truncated or odd
    /// message gives what could be read.
    /// </summary>
    private static List<string> CertificateAuthorities(ReadOnlySpan<byte> body)
    {
        var names = new List<string>();
        try
        {
            var at = 1 + body[0];
            at += 2 + (body[at] << 8 | body[at + 1]);
            var end = Math.Min(body.Length, at + 2 + (body[at] << 8 | body[at + 1]));
            for (at += 2; at + 2 <= end;)
            {
                var length = body[at] << 8 | body[at + 1];
                at += 2;
                if (at + length > end)
                {
                    break;
                }
                names.Add(new System.Security.Cryptography.X509Certificates.X500DistinguishedName(body.Slice(at, length)).Name);
                at += length;
            }
        }
        catch (Exception e) when (e is IndexOutOfRangeException or System.Security.Cryptography.CryptographicException)
        {
            // what could be read
        }
        return names;
    }

    private static bool StartsWithIgnoringCase(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> prefix) =>
        bytes.Length >= prefix.Length && System.Text.Ascii.EqualsIgnoreCase(bytes[..prefix.Length], prefix);

    /// <summary>A TLS record header: content type 20–23, major version 3, minor 0–4.</summary>
    private static bool LooksLikeTlsRecord(ReadOnlySpan<byte> bytes) =>
        bytes[0] is >= 0x14 and <= 0x17 && (bytes.Length < 2 || bytes[1] == 3) && (bytes.Length < 3 || bytes[2] <= 4);

    /// <summary>The ServerHello's legacy version, or the supported_versions extension's (TLS 1.3) when present.</summary>
    private static int SelectedVersion(ReadOnlySpan<byte> hello)
    {
        var legacy = hello[0] << 8 | hello[1];
        var at = 2 + 32; // version, random
        if (at >= hello.Length)
        {
            return legacy;
        }
        at += 1 + hello[at]; // session id
        at += 2 + 1; // cipher suite, compression method
        if (at + 2 > hello.Length)
        {
            return legacy;
        }
        var end = Math.Min(hello.Length, at + 2 + (hello[at] << 8 | hello[at + 1]));
        for (at += 2; at + 4 <= end;)
        {
            var type = hello[at] << 8 | hello[at + 1];
            var length = hello[at + 2] << 8 | hello[at + 3];
            if (type == 0x002b && length == 2 && at + 6 <= end)
            {
                return hello[at + 4] << 8 | hello[at + 5];
            }
            at += 4 + length;
        }
        return legacy;
    }

    /// <summary>The first line of what the server sent, quoted like any party's text (escaped, capped at 60).</summary>
    private static string FirstLine(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOfAny((byte)'\r', (byte)'\n');
        return LogText.Quote(Encoding.Latin1.GetString(end < 0 ? bytes : bytes[..end]), 60);
    }
}
