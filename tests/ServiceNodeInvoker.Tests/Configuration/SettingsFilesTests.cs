using ServiceNodeInvoker.Configuration;

namespace ServiceNodeInvoker.Tests.Configuration;

/// <summary>How a settings file that no longer reads is named: where it breaks, never what it holds.</summary>
[Trait("Tier", "Fast")]
public sealed class SettingsFilesTests
{
    [Fact]
    public void A_file_broken_at_an_unquoted_value_is_named_with_its_line_and_column_never_a_character_of_the_value()
    {
        using var files = new TempFiles();
        var (settings, present, path) = ReadGoodFile(files);

        // A password pasted without its quotes: the reader stops at its first character.
        File.WriteAllText(path, "{\n  \"Invoker\": {\n    \"Password\": Zq9-secret\n  }\n}");
        var unquoted = Assert.Single(settings.Problems(present));
        Assert.StartsWith("appsettings.json: not valid JSON at line 3, column 17:", unquoted);
        Assert.DoesNotContain("'Z'", unquoted);
        Assert.DoesNotContain(files.Directory, unquoted);

        // JSON's own punctuation is quoted: it says what is wrong.
        File.WriteAllText(path, "{ \"Invoker\": { } } }");
        Assert.Contains("'}'", Assert.Single(settings.Problems(present)));
    }

    [Theory]
    [InlineData("fa1se")] // the reader quotes an invalid literal up to where it stops matching 'false'/'true'/'null'
    [InlineData("tr7x")]
    [InlineData("nu1l")]
    public void A_value_that_starts_like_a_json_literal_is_not_repeated_either(string secret)
    {
        using var files = new TempFiles();
        var (settings, present, path) = ReadGoodFile(files);

        File.WriteAllText(path, $"{{\n  \"Invoker\": {{\n    \"Password\": {secret}\n  }}\n}}");
        var problem = Assert.Single(settings.Problems(present));
        Assert.StartsWith("appsettings.json: not valid JSON at line 3, column", problem);
        Assert.DoesNotContain(secret[..3], problem);
        Assert.DoesNotContain("\n", problem); // nor the lines after it
        Assert.Contains("a value is an invalid JSON literal", problem);
    }

    /// <summary>A host's settings file that read well at the last good load; the test then breaks it at <c>path</c>.</summary>
    private static (SettingsFiles Settings, HashSet<string> Present, string Path) ReadGoodFile(TempFiles files)
    {
        var path = Path.Combine(files.Directory, "appsettings.json");
        File.WriteAllText(path, "{ \"Invoker\": { } }");
        var settings = SettingsFiles.Of(new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: false).Build());
        return (settings, settings.Present(), path);
    }
}
