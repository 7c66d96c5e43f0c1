using ServiceNodeInvoker.Contract;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;

namespace ServiceNodeInvoker.Invocation;

/// <summary>Writes the envelope reply; decides how the backend's body is represented (json, text, base64).</summary>
internal static class EnvelopeWriter
{
    public const string Json = "json";
    public const string Text = "text";
    public const string Base64 = "base64";

    private static readonly JsonReaderOptions ValidationOptions = new() { MaxDepth = 256 };

    /// <summary>
    /// Readable UTF-8: "héllo" and "application/problem+json" as they are, not \u00E9 / \u002B. Still escaped:
    /// quotes, backslashes and control characters (JSON requires it). The envelope is application/json for
    /// API clients, never embedded in HTML, so the HTML-safe default escaping buys nothing here.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(Utf8JsonWriter writer, InvocationOutcome outcome, ReadOnlySpan<byte> body, TimeSpan duration)
    {
        var response = outcome.Response;
        writer.WriteStartObject();
        writer.WriteNumber("status", (int)response.StatusCode);
        writer.WriteString("reason", response.ReasonPhrase ?? ReasonPhrase((int)response.StatusCode));

        writer.WriteStartObject("headers");
        foreach (var (name, values) in HeaderPolicy.ResponseEndToEnd(response))
        {
            writer.WriteStartArray(name.ToLowerInvariant());
            foreach (var value in values)
            {
                writer.WriteStringValue(value);
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();

        WriteBody(writer, HeaderPolicy.ContentType(response), body);

        writer.WriteNumber("durationMs", Math.Round(duration.TotalMilliseconds, 1));
        writer.WriteString("profile", outcome.Profile.Name);
        writer.WriteStartObject("tls");
        if (outcome.Transport.ProtocolFor(outcome.Request.Url) is { } protocol)
        {
            writer.WriteString("protocol", ProtocolName(protocol));
        }
        if (outcome.Material.Client is { } client)
        {
            writer.WriteStartObject("clientCertificate");
            writer.WriteString("subject", client.Subject);
            writer.WriteString("thumbprintSha256", client.ThumbprintSha256);
            writer.WriteString("notAfter", client.NotAfter);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("clientCertificate");
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>JSON content types with a valid JSON body embed it; text types and valid text embed a string; the rest is base64.</summary>
    public static void WriteBody(Utf8JsonWriter writer, MediaTypeHeaderValue? contentType, ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            writer.WriteString("body", "");
            writer.WriteString("bodyEncoding", Text);
            return;
        }
        var mediaType = contentType?.MediaType?.ToLowerInvariant();
        var charset = contentType?.CharSet?.Trim('"').ToLowerInvariant();
        var utf8 = charset is null or "utf-8" or "utf8" or "us-ascii";
        if (IsJson(mediaType) && utf8)
        {
            var json = body.StartsWith("\xEF\xBB\xBF"u8) ? body[3..] : body;
            // The JSON reader checks structure, not the UTF-8 inside strings: both must hold, or the bot could not parse the envelope.
            if (System.Text.Unicode.Utf8.IsValid(json) && IsValidJson(json))
            {
                writer.WritePropertyName("body");
                writer.WriteRawValue(json, skipInputValidation: true);
                writer.WriteString("bodyEncoding", Json);
                return;
            }
        }
        if (mediaType is not null && (IsJson(mediaType) || IsText(mediaType)))
        {
            if (utf8 && System.Text.Unicode.Utf8.IsValid(body))
            {
                writer.WriteString("body", body);
                writer.WriteString("bodyEncoding", Text);
                return;
            }
            if (charset is "iso-8859-1" or "latin1")
            {
                writer.WriteString("body", Encoding.Latin1.GetString(body));
                writer.WriteString("bodyEncoding", Text);
                return;
            }
        }
        writer.WriteBase64String("body", body);
        writer.WriteString("bodyEncoding", Base64);
    }

    private static bool IsJson(string? mediaType) =>
        mediaType is "application/json" or "text/json" || mediaType?.EndsWith("+json", StringComparison.Ordinal) == true;

    private static bool IsText(string mediaType) =>
        mediaType.StartsWith("text/", StringComparison.Ordinal)
        || mediaType is "application/xml" or "application/javascript" or "application/x-www-form-urlencoded" or "application/graphql"
        || mediaType.EndsWith("+xml", StringComparison.Ordinal);

    private static bool IsValidJson(ReadOnlySpan<byte> json)
    {
        try
        {
            // A single value, then only whitespace: the reader throws on anything else.
            var reader = new Utf8JsonReader(json, ValidationOptions);
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string ProtocolName(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "Tls13",
        SslProtocols.Tls12 => "Tls12",
        _ => protocol.ToString(),
    };

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : ((HttpStatusCode)status).ToString();
}
