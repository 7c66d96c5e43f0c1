using ServiceNodeInvoker.Primitives;
using System.Text;
using System.Text.Json;

namespace ServiceNodeInvoker.Contract;

/// <summary>
/// Parses and validates the invocation request body in one forward pass (Utf8JsonReader, no DOM: a
/// large JSON body is skipped over and sliced, never materialised). Every rejection names the field
/// at fault; none echoes a header value or body back, since those may be secrets.
/// </summary>
internal static class InvocationRequestParser
{
    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = 64,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>The request's field names, as the contract (and docs/openapi.json) lists them; any other is refused.</summary>
    public static readonly IReadOnlyList<string> FieldNames = ["profile", "method", "url", "headers", "body", "bodyBase64", "timeoutSeconds", "response"];

    [Flags]
    private enum Field
    {
        None = 0, Profile = 1, Method = 2, Url = 4, Headers = 8, Body = 16, BodyBase64 = 32, Timeout = 64, Response = 128,
    }

    public static InvocationRequest Parse(ReadOnlyMemory<byte> json, RequestLimits? limits = null)
    {
        limits ??= RequestLimits.Default;
        // The reader checks structure, not the UTF-8 inside strings: reading those later would throw.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw InvokerException.Invalid("$", "The request body is not valid UTF-8.");
        }
        try
        {
            var reader = new Utf8JsonReader(json.Span, ReaderOptions);
            var request = Read(ref reader, json, limits);
            if (reader.Read())
            {
                throw InvokerException.Invalid("$", "The request body holds more than one JSON value.");
            }
            return request;
        }
        catch (JsonException e)
        {
            // The reader's message gives position and reason, never the offending content.
            throw InvokerException.Invalid("$", $"The request body is not valid JSON: {Describe(e)}");
        }
        catch (InvalidOperationException)
        {
            // Any other text the reader cannot turn into .NET strings (every known path is caught above, naming its field).
            throw InvokerException.Invalid("$", "The request body holds text that is not valid Unicode.");
        }
    }

    private static string Describe(JsonException e) =>
        e.LineNumber is { } line ? $"error at line {line + 1}, byte {e.BytePositionInLine + 1}." : "malformed JSON.";

    private static InvocationRequest Read(ref Utf8JsonReader reader, ReadOnlyMemory<byte> json, RequestLimits limits)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw InvokerException.Invalid("$", "The request body must be a JSON object.");
        }

        var seen = Field.None;
        string? profile = null;
        HttpMethod? method = null;
        Uri? url = null;
        List<KeyValuePair<string, string[]>> headers = [];
        RequestBody? body = null;
        RequestBody? bodyBase64 = null;
        TimeSpan? timeout = null;
        var response = ResponseMode.Envelope;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Identify(ref reader);
            if ((seen & field) != 0)
            {
                throw InvokerException.Invalid("$", "A field appears twice in the request body.");
            }
            seen |= field;
            reader.Read();
            switch (field)
            {
                case Field.Profile:
                    profile = OptionalString(ref reader, "profile");
                    if (profile is { Length: 0 or > 128 })
                    {
                        throw InvokerException.Invalid("profile", "'profile' must be a non-empty name of at most 128 characters.");
                    }
                    break;
                case Field.Method:
                    var methodName = OptionalString(ref reader, "method");
                    if (methodName is null || !InvocationMethods.TryParse(methodName, out method))
                    {
                        throw InvokerException.Invalid("method", "'method' must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.");
                    }
                    break;
                case Field.Url:
                    url = ReadUrl(ref reader, limits.MaxUrlLength);
                    break;
                case Field.Headers:
                    headers = ReadHeaders(ref reader, limits);
                    break;
                case Field.Body:
                    body = ReadBody(ref reader, json);
                    break;
                case Field.BodyBase64:
                    bodyBase64 = ReadBodyBase64(ref reader);
                    break;
                case Field.Timeout:
                    timeout = ReadTimeout(ref reader);
                    break;
                case Field.Response:
                    response = OptionalString(ref reader, "response") switch
                    {
                        null or "envelope" => ResponseMode.Envelope,
                        "passthrough" => ResponseMode.Passthrough,
                        _ => throw InvokerException.Invalid("response", "'response' must be \"envelope\" or \"passthrough\"."),
                    };
                    break;
            }
        }

        if (method is null)
        {
            throw InvokerException.Invalid("method", "'method' is required.");
        }
        if (url is null)
        {
            throw InvokerException.Invalid("url", "'url' is required.");
        }
        if (body is not null && bodyBase64 is not null)
        {
            throw InvokerException.Invalid("bodyBase64", "Set 'body' or 'bodyBase64', not both.");
        }

        return new InvocationRequest
        {
            Profile = profile,
            Method = method,
            Url = url,
            Headers = headers,
            Body = body ?? bodyBase64,
            Timeout = timeout,
            Response = response,
        };
    }

    /// <summary>Matches the known field names without allocating; anything else is an error naming it.</summary>
    private static Field Identify(ref Utf8JsonReader reader)
    {
        if (reader.ValueSpan.IndexOf((byte)'\\') >= 0)
        {
            // Escaped names are compared after unescaping, which fails on lone surrogates.
            var unescaped = Text(ref reader, "(a field name)");
            return unescaped switch
            {
                "method" => Field.Method, "url" => Field.Url, "body" => Field.Body, "headers" => Field.Headers,
                "profile" => Field.Profile, "bodyBase64" => Field.BodyBase64, "timeoutSeconds" => Field.Timeout,
                "response" => Field.Response,
                _ => throw InvokerException.Invalid(Truncate(unescaped), $"Unknown field '{LogText.Escape(Truncate(unescaped))}'."),
            };
        }
        if (reader.ValueTextEquals("method"u8)) { return Field.Method; }
        if (reader.ValueTextEquals("url"u8)) { return Field.Url; }
        if (reader.ValueTextEquals("body"u8)) { return Field.Body; }
        if (reader.ValueTextEquals("headers"u8)) { return Field.Headers; }
        if (reader.ValueTextEquals("profile"u8)) { return Field.Profile; }
        if (reader.ValueTextEquals("bodyBase64"u8)) { return Field.BodyBase64; }
        if (reader.ValueTextEquals("timeoutSeconds"u8)) { return Field.Timeout; }
        if (reader.ValueTextEquals("response"u8)) { return Field.Response; }
        var name = Truncate(Text(ref reader, "(an unknown field name)"));
        throw InvokerException.Invalid(name, $"Unknown field '{LogText.Escape(name)}'.");
    }

    /// <summary>
    /// A JSON string as .NET text. An escaped lone surrogate (<c>"\ud800"</c>) is valid JSON but not
    /// Unicode: it is refused naming the field instead of failing deep inside the reader.
    /// </summary>
    private static string Text(ref Utf8JsonReader reader, string field)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw InvokerException.Invalid(field,
                $"'{field}' holds an escaped lone surrogate (such as \\ud800 without its pair): that is not Unicode text.");
        }
    }

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";

    private static string? OptionalString(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => Text(ref reader, field),
        _ => throw InvokerException.Invalid(field, $"'{field}' must be a string."),
    };

    private static Uri ReadUrl(ref Utf8JsonReader reader, int maxLength)
    {
        var text = OptionalString(ref reader, "url");
        if (string.IsNullOrEmpty(text))
        {
            throw InvokerException.Invalid("url", "'url' is required.");
        }
        if (text.Length > maxLength)
        {
            throw InvokerException.Invalid("url", $"'url' is longer than {maxLength} characters.");
        }
        // "/echo" parses as an absolute file URI on Unix: a URL without a scheme is relative, whatever the parser says.
        if (!HasScheme(text) || !Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            throw InvokerException.Invalid("url", "'url' must be an absolute URL such as https://host:port/path.");
        }
        return url;
    }

    private static bool HasScheme(string text)
    {
        var colon = text.IndexOf(':');
        return colon > 0 && char.IsAsciiLetter(text[0]) && text.AsSpan(1, colon - 1).IndexOfAnyExcept(SchemeCharacters) < 0;
    }

    private static readonly System.Buffers.SearchValues<char> SchemeCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    private static List<KeyValuePair<string, string[]>> ReadHeaders(ref Utf8JsonReader reader, RequestLimits limits)
    {
        List<KeyValuePair<string, string[]>> headers = [];
        if (reader.TokenType == JsonTokenType.Null)
        {
            return headers;
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw InvokerException.Invalid("headers", "'headers' must be an object of name → string or array of strings.");
        }
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var count = 0;
        var bytes = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = Text(ref reader, "headers");
            if (name.Length > 256 || !HeaderPolicy.IsValidName(name))
            {
                throw InvokerException.Invalid("headers", "A header name is not a valid HTTP token (RFC 9110) of at most 256 characters.");
            }
            var field = $"headers.{name}";
            if (!names.Add(name))
            {
                throw InvokerException.Invalid(field, $"The header '{name}' appears twice: send one name with an array of values.");
            }
            if (HeaderPolicy.IsCallerForbidden(name))
            {
                throw InvokerException.Invalid(field, $"The header '{name}' is set by the invoker and cannot be sent.");
            }
            reader.Read();
            string[] values = reader.TokenType switch
            {
                JsonTokenType.String => [Text(ref reader, field)],
                JsonTokenType.StartArray => ReadHeaderArray(ref reader, field),
                _ => throw InvokerException.Invalid(field, $"'{field}' must be a string or an array of strings."),
            };
            foreach (var v in values)
            {
                if (!HeaderPolicy.IsValidValue(v))
                {
                    throw InvokerException.Invalid(field, $"'{field}' holds a control character (CR, LF, NUL…) or a non-ASCII character.");
                }
                count++;
                bytes += name.Length + v.Length;
            }
            if (count > limits.MaxHeaderCount)
            {
                throw InvokerException.Invalid("headers", $"More than {limits.MaxHeaderCount} header values.");
            }
            if (bytes > limits.MaxHeaderBytes)
            {
                throw InvokerException.Invalid("headers", $"Headers larger than {limits.MaxHeaderBytes} bytes in all.");
            }
            headers.Add(new(name, values));
        }
        return headers;
    }

    private static string[] ReadHeaderArray(ref Utf8JsonReader reader, string field)
    {
        List<string> values = [];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw InvokerException.Invalid(field, $"'{field}' must be a string or an array of strings.");
            }
            values.Add(Text(ref reader, field));
        }
        return [.. values];
    }

    /// <summary>A JSON body is skipped over (validated by the reader) and its raw bytes sliced out, never parsed into a DOM.</summary>
    private static RequestBody? ReadBody(ref Utf8JsonReader reader, ReadOnlyMemory<byte> json)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return new RequestBody(Encoding.UTF8.GetBytes(Text(ref reader, "body")), "text/plain; charset=utf-8");
            default:
                var start = (int)reader.TokenStartIndex;
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    reader.Skip();
                }
                var end = (int)reader.BytesConsumed;
                return new RequestBody(json[start..end].ToArray(), "application/json");
        }
    }

    private static RequestBody? ReadBodyBase64(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (reader.TokenType != JsonTokenType.String || !reader.TryGetBytesFromBase64(out var bytes))
        {
            throw InvokerException.Invalid("bodyBase64", "'bodyBase64' must be a base64 string.");
        }
        return new RequestBody(bytes, "application/octet-stream");
    }

    private static TimeSpan? ReadTimeout(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds <= 0 || seconds > 86_400)
        {
            throw InvokerException.Invalid("timeoutSeconds",
                "'timeoutSeconds' must be a number of seconds more than 0 and at most 86400 (the profile's Timeout, at most 230, caps it).");
        }
        return TimeSpan.FromSeconds(seconds);
    }
}
