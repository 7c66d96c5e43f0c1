using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace ServiceNodeInvoker.Contract;

/// <summary>
/// Parses and validates the invocation request body. Every rejection names the field at fault;
/// none echoes a header value or body back, since those may be secrets.
/// </summary>
public static class InvocationRequestReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = 64,
        AllowDuplicateProperties = false,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    private static readonly Dictionary<string, HttpMethod> Methods = new(StringComparer.OrdinalIgnoreCase)
    {
        ["GET"] = HttpMethod.Get, ["HEAD"] = HttpMethod.Head, ["POST"] = HttpMethod.Post, ["PUT"] = HttpMethod.Put,
        ["PATCH"] = HttpMethod.Patch, ["DELETE"] = HttpMethod.Delete, ["OPTIONS"] = HttpMethod.Options,
    };

    public static InvocationRequest Parse(ReadOnlyMemory<byte> json, RequestLimits? limits = null)
    {
        limits ??= RequestLimits.Default;
        // The reader checks structure, not the UTF-8 inside strings: reading those later would throw.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw InvokerException.Invalid("$", "The request body is not valid UTF-8.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            // The reader's message gives position and reason, never the offending content.
            throw InvokerException.Invalid("$", $"The request body is not valid JSON: {Describe(e)}");
        }
        using (document)
        {
            return Read(document.RootElement, limits);
        }
    }

    private static string Describe(JsonException e) =>
        e.LineNumber is { } line ? $"error at line {line + 1}, byte {e.BytePositionInLine + 1}." : "malformed JSON.";

    private static InvocationRequest Read(JsonElement root, RequestLimits limits)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw InvokerException.Invalid("$", "The request body must be a JSON object.");
        }

        string? profile = null;
        HttpMethod? method = null;
        Uri? url = null;
        List<KeyValuePair<string, string[]>> headers = [];
        RequestBody? body = null;
        RequestBody? bodyBase64 = null;
        TimeSpan? timeout = null;
        var response = ResponseMode.Envelope;

        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "profile":
                    profile = OptionalString(value, "profile");
                    if (profile is { Length: 0 or > 128 })
                    {
                        throw InvokerException.Invalid("profile", "'profile' must be a non-empty name of at most 128 characters.");
                    }
                    break;
                case "method":
                    var methodName = OptionalString(value, "method");
                    if (methodName is null || !Methods.TryGetValue(methodName, out method))
                    {
                        throw InvokerException.Invalid("method", "'method' must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.");
                    }
                    break;
                case "url":
                    url = ReadUrl(value, limits.MaxUrlLength);
                    break;
                case "headers":
                    headers = ReadHeaders(value, limits);
                    break;
                case "body":
                    body = ReadBody(value);
                    break;
                case "bodyBase64":
                    bodyBase64 = ReadBodyBase64(value);
                    break;
                case "timeoutSeconds":
                    timeout = ReadTimeout(value);
                    break;
                case "response":
                    response = OptionalString(value, "response") switch
                    {
                        null or "envelope" => ResponseMode.Envelope,
                        "passthrough" => ResponseMode.Passthrough,
                        _ => throw InvokerException.Invalid("response", "'response' must be \"envelope\" or \"passthrough\"."),
                    };
                    break;
                default:
                    throw InvokerException.Invalid(Truncate(property.Name), $"Unknown field '{Truncate(property.Name)}'.");
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

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";

    private static string? OptionalString(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => value.GetString(),
        _ => throw InvokerException.Invalid(field, $"'{field}' must be a string."),
    };

    private static Uri ReadUrl(JsonElement value, int maxLength)
    {
        var text = OptionalString(value, "url");
        if (string.IsNullOrEmpty(text))
        {
            throw InvokerException.Invalid("url", "'url' is required.");
        }
        if (text.Length > maxLength)
        {
            throw InvokerException.Invalid("url", $"'url' is longer than {maxLength} characters.");
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            throw InvokerException.Invalid("url", "'url' must be an absolute URL such as https://host:port/path.");
        }
        return url;
    }

    private static List<KeyValuePair<string, string[]>> ReadHeaders(JsonElement value, RequestLimits limits)
    {
        var count = 0;
        var bytes = 0;
        List<KeyValuePair<string, string[]>> headers = [];
        if (value.ValueKind == JsonValueKind.Null)
        {
            return headers;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw InvokerException.Invalid("headers", "'headers' must be an object of name → string or array of strings.");
        }
        foreach (var header in value.EnumerateObject())
        {
            var name = header.Name;
            if (name.Length > 256 || !HeaderRules.IsValidName(name))
            {
                throw InvokerException.Invalid("headers", "A header name is not a valid HTTP token (RFC 9110) of at most 256 characters.");
            }
            var field = $"headers.{name}";
            if (HeaderRules.IsCallerForbidden(name))
            {
                throw InvokerException.Invalid(field, $"The header '{name}' is set by the invoker and cannot be sent.");
            }
            string[] values = header.Value.ValueKind switch
            {
                JsonValueKind.String => [header.Value.GetString()!],
                JsonValueKind.Array => ReadHeaderArray(header.Value, field),
                _ => throw InvokerException.Invalid(field, $"'{field}' must be a string or an array of strings."),
            };
            foreach (var v in values)
            {
                if (!HeaderRules.IsValidValue(v))
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

    private static string[] ReadHeaderArray(JsonElement array, string field)
    {
        var values = new string[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw InvokerException.Invalid(field, $"'{field}' must be a string or an array of strings.");
            }
            values[i++] = item.GetString()!;
        }
        return values;
    }

    private static RequestBody? ReadBody(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => new RequestBody(Encoding.UTF8.GetBytes(value.GetString()!), "text/plain; charset=utf-8"),
        _ => new RequestBody(JsonMarshal.GetRawUtf8Value(value).ToArray(), "application/json"),
    };

    private static RequestBody? ReadBodyBase64(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.String || !value.TryGetBytesFromBase64(out var bytes))
        {
            throw InvokerException.Invalid("bodyBase64", "'bodyBase64' must be a base64 string.");
        }
        return new RequestBody(bytes, "application/octet-stream");
    }

    private static TimeSpan? ReadTimeout(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds <= 0 || seconds > 86_400)
        {
            throw InvokerException.Invalid("timeoutSeconds", "'timeoutSeconds' must be a positive number of seconds.");
        }
        return TimeSpan.FromSeconds(seconds);
    }
}
