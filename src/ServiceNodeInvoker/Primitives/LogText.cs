using System.Text;

namespace ServiceNodeInvoker.Primitives;

/// <summary>
/// Makes caller- or configuration-controlled text safe for a log line or a message: control
/// characters (CR, LF, ESC…) and other invisible format characters become \xNN / \uNNNN escapes,
/// so nobody can forge log lines or colour a terminal through a field name.
/// </summary>
internal static class LogText
{
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
