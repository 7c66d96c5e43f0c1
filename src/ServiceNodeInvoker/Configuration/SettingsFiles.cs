using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace ServiceNodeInvoker.Configuration;

/// <summary>
/// The settings files behind a host's configuration (appsettings.json and its environment's file), as a live change
/// sees them: whether any is watched, whether each one still reads, and a signal when one failed to load. ASP.NET Core
/// raises no change for a file that does not parse (it keeps the error to itself), so without that signal an edit
/// that breaks the JSON would go unnoticed while the operator believes it applied.
/// </summary>
internal sealed partial class SettingsFiles
{
    private readonly IReadOnlyList<FileConfigurationSource> _sources;

    private SettingsFiles(IReadOnlyList<FileConfigurationSource> sources) => _sources = sources;

    /// <summary>Raised, on the thread that loaded it, when a settings file failed to load.</summary>
    public event Action? LoadFailed;

    /// <summary>The files of <paramref name="configuration"/>, each hooked so that a failed load raises <see cref="LoadFailed"/>.</summary>
    public static SettingsFiles Of(IConfiguration configuration)
    {
        var sources = (configuration as IConfigurationRoot)?.Providers.OfType<FileConfigurationProvider>().Select(p => p.Source).ToList() ?? [];
        var files = new SettingsFiles(sources);
        foreach (var source in sources)
        {
            // The provider reads this handler from its source when a load fails: set now, it applies to every later load.
            var before = source.OnLoadException;
            source.OnLoadException = context =>
            {
                before?.Invoke(context);
                files.LoadFailed?.Invoke();
            };
        }
        return files;
    }

    /// <summary>Whether a file is watched: its changes are read as they are saved (else only on request).</summary>
    public bool Watched => _sources.Any(s => s.ReloadOnChange);

    /// <summary>The files that exist now, by full path.</summary>
    public HashSet<string> Present() =>
        _sources.Select(s => s.FileProvider?.GetFileInfo(s.Path ?? "")).Where(f => f is { Exists: true, PhysicalPath: not null })
            .Select(f => f!.PhysicalPath!).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// What is wrong with the files now, one line each naming the file (never its folder): a JSON file that does not parse
    /// (read again with the same parser the host uses), and a file that was there at the last good load and is gone (a
    /// deleted or half-replaced file is not read as "no settings").
    /// </summary>
    public List<string> Problems(IReadOnlySet<string> presentBefore)
    {
        var problems = new List<string>();
        foreach (var source in _sources)
        {
            var file = source.FileProvider?.GetFileInfo(source.Path ?? "");
            if (file?.PhysicalPath is not { } path)
            {
                continue;
            }
            var name = Path.GetFileName(path);
            if (!file.Exists)
            {
                if (presentBefore.Contains(path))
                {
                    problems.Add($"{name}: the file is gone (deleted, or being replaced). A missing settings file is not read as having no settings: " +
                                 "put it back, or restart the host to run without it.");
                }
                continue;
            }
            if (source is not JsonConfigurationSource)
            {
                continue;
            }
            try
            {
                new ConfigurationBuilder().Add(new JsonConfigurationSource
                {
                    FileProvider = source.FileProvider,
                    Path = source.Path ?? "",
                    Optional = true,
                    ReloadOnChange = false,
                }).Build();
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or IOException or System.Text.Json.JsonException)
            {
                problems.Add($"{name}: {Reason(e, path, name)}");
            }
        }
        return problems;
    }

    /// <summary>Why a file does not read: where the JSON breaks (1-based line and column), else the reader's own words without the folder.</summary>
    private static string Reason(Exception e, string path, string name)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Text.Json.JsonException json)
            {
                var message = json.Message;
                foreach (var tail in new[] { " Path:", " LineNumber:" })
                {
                    var at = message.IndexOf(tail, StringComparison.Ordinal);
                    message = at > 0 ? message[..at] : message;
                }
                // The reader quotes what it stopped at first: a character, or — for a value that starts like a literal
                // ("fals3cret") — the rest of its buffer, value, line breaks, following lines and all. A value's text is
                // not repeated (an unquoted password); JSON's own punctuation is, as it says what is wrong ("'}' is invalid
                // after a value"), and so is a control character's code ('0x0A').
                if (message.StartsWith('\'') && message.LastIndexOf("' is ", StringComparison.Ordinal) is var end and > 0)
                {
                    var quoted = message[1..end];
                    var kept = quoted.Length == 1 && "{}[],:\"".Contains(quoted[0]) || ControlCode().IsMatch(quoted);
                    message = (kept ? $"'{quoted}'" : quoted.Length == 1 ? "a character" : "a value") + message[(end + 1)..];
                }
                message = QuotedCharacter().Replace(message, m => "{}[],:\"".Contains(m.Groups[1].Value[0]) ? m.Value : "a character");
                return json.LineNumber is { } line
                    ? $"not valid JSON at line {line + 1}, column {(json.BytePositionInLine ?? 0) + 1}: {message.Trim()}"
                    : $"not valid JSON: {message.Trim()}";
            }
        }
        var innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }
        return $"cannot be read as settings: {innermost.Message.Replace(path, name, StringComparison.Ordinal)}";
    }

    [System.Text.RegularExpressions.GeneratedRegex("'(.)'")]
    private static partial System.Text.RegularExpressions.Regex QuotedCharacter();

    [System.Text.RegularExpressions.GeneratedRegex("^0x[0-9A-F]{2}$")]
    private static partial System.Text.RegularExpressions.Regex ControlCode();
}
