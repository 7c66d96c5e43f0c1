using System.Text;

namespace ServiceNodeInvoker.Primitives;

/// <summary>
/// Makes text from another party (a caller, a backend, a token endpoint, the vault, configuration) safe for a
/// log line, a header or a reply: control characters (CR, LF, ESC…) and other invisible format characters become
/// \xNN / \uNNNN escapes, so nobody can forge log lines or colour a terminal through it; <see cref="Quote"/>
/// also caps it, so nobody can make a reply or a log line as large as they like. Every text we quote from a
/// party goes through <see cref="Quote"/>: one escaping and one cap.
/// </summary>
internal static class LogText
{
    /// <summary>The most characters of a party's text quoted anywhere (a reply, a header, a log line).</summary>
    public const int DefaultQuoteLength = 200;

    /// <summary>
    /// A party's text as we quote it: escaped, and at most <paramref name="max"/> characters of that (an escape is never
    /// split; the cut is marked with "…" and the text's full length). Null is the empty string.
    /// </summary>
    public static string Quote(string? value, int max = DefaultQuoteLength)
    {
        if (value is null)
        {
            return "";
        }
        var escaped = Escape(value);
        if (escaped.Length <= max)
        {
            return escaped;
        }
        var cut = new StringBuilder(max + 24);
        foreach (var c in value)
        {
            var piece = NeedsEscape(c) ? Escape(c.ToString()) : null;
            if (cut.Length + (piece?.Length ?? 1) > max)
            {
                break;
            }
            if (piece is null)
            {
                cut.Append(c);
            }
            else
            {
                cut.Append(piece);
            }
        }
        return cut.Append("… (").Append(value.Length).Append(" characters)").ToString();
    }

    /// <summary>The most characters of a list of a party's texts quoted anywhere (the names in a certificate, the CAs a server names).</summary>
    public const int DefaultListLength = 1000;

    /// <summary>
    /// A list of a party's texts as we quote it: each quoted (<see cref="Quote"/>) and shaped by <paramref name="shape"/> (say, put
    /// in quotes), joined by <paramref name="separator"/>, and the whole capped at <paramref name="max"/> characters: a party
    /// cannot make it as long as it likes by sending many short texts either.
    /// </summary>
    public static string QuoteList(IEnumerable<string?> values, string separator, Func<string, string>? shape = null, int max = DefaultListLength)
    {
        var joined = new StringBuilder();
        foreach (var value in values)
        {
            if (joined.Length > max)
            {
                joined.Append(separator).Append('…');
                break; // Quote below cuts at max anyway: the rest is not even read
            }
            if (joined.Length > 0)
            {
                joined.Append(separator);
            }
            var quoted = Quote(value);
            joined.Append(shape is null ? quoted : shape(quoted));
        }
        return Quote(joined.ToString(), max);
    }

    public static string Escape(string? value)
    {
        if (value is null)
        {
            return "";
        }
        var clean = true;
        foreach (var c in value)
        {
            if (NeedsEscape(c))
            {
                clean = false;
                break;
            }
        }
        if (clean)
        {
            return value;
        }
        var builder = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (!NeedsEscape(c))
            {
                builder.Append(c);
            }
            else if (c <= 0xFF)
            {
                builder.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }

    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || char.IsSurrogate(c)
        || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format
            or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;
}
