using System.Reflection;
using System.Text.RegularExpressions;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>
/// docs/operations.md against the code's own lists: its table of error codes holds exactly <see cref="ErrorCodes"/>
/// (each with its status), and its table of causes (with the token causes of the code table) exactly
/// <see cref="FailureCauses"/>, each cause with the code the classifier gives it (issue 34, item 7).
/// </summary>
[Trait("Tier", "Fast")]
public sealed partial class OperationsDocumentTests
{
    private static readonly string Document = Load();

    private static string Load()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, "docs", "operations.md");
            if (File.Exists(file))
            {
                return File.ReadAllText(file);
            }
        }
        throw new FileNotFoundException("docs/operations.md not found above the test binaries");
    }

    private static IEnumerable<string> Constants(Type type) => type.GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!);

    /// <summary>The rows of the first table after <paramref name="heading"/>, each split into its cells.</summary>
    private static List<string[]> Table(string heading)
    {
        var lines = Document[Document.IndexOf(heading, StringComparison.Ordinal)..].Split('\n');
        return lines.SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2)
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();
    }

    [Fact]
    public void The_table_of_codes_holds_every_code_with_its_status()
    {
        var rows = Table("## Diagnosing each error code").Select(r => r[0].Split(' ')).ToList();
        Assert.Equal(Constants(typeof(ErrorCodes)).Order(), rows.Select(r => r[1]).Order());
        foreach (var row in rows)
        {
            Assert.Equal(ErrorCodes.StatusOf(row[1]).ToString(), row[0]);
        }
    }

    [Fact]
    public void The_table_of_causes_holds_every_cause_with_its_code()
    {
        var causes = new HashSet<string>();
        foreach (var row in Table("## Every cause, what the reply says, what to do"))
        {
            var code = row[1].Split(' ');
            foreach (Match cause in Quoted().Matches(row[0]))
            {
                Assert.True(causes.Add(cause.Groups[1].Value), $"{cause.Value} is listed twice");
                Assert.Equal(ErrorCodes.StatusOf(code[1]).ToString(), code[0]);
            }
        }
        // The token causes are told in the token-unavailable row of the table of codes.
        var token = Table("## Diagnosing each error code").Single(r => r[0] == "502 token-unavailable");
        foreach (var cause in Constants(typeof(FailureCauses)).Where(c => c.StartsWith("token-", StringComparison.Ordinal)))
        {
            Assert.Contains($"`{cause}`", token[2]);
            causes.Add(cause);
        }
        Assert.Equal(Constants(typeof(FailureCauses)).Order(), causes.Order());
    }

    [GeneratedRegex("`([a-z-]+)`")]
    private static partial Regex Quoted();
}
