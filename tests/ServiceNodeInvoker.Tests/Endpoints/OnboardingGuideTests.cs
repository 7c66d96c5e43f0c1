using System.Diagnostics;
using System.Text.RegularExpressions;
using ServiceNodeInvoker.Callers;

namespace ServiceNodeInvoker.Tests.Endpoints;

/// <summary>
/// docs/onboarding.md's commands, run as written (bash, curl, jq) against a real host and a mutual-TLS backend, with only
/// the example partner's host:port pointed at the test backend: each succeeds, and every field each jq filter reads exists
/// in the real reply (jq prints null for a path that does not; issue 34: the guide read a version that files never have).
/// The key-minting lines make the hash the host checks.
/// </summary>
public sealed partial class OnboardingGuideTests
{
    private static readonly TestPki Pki = TestPki.Instance;
    private const string Partner = "payments.contoso.com:8443";

    private static readonly string Guide = File.ReadAllText(Path.Combine(Tools.RepoRoot, "docs", "onboarding.md"));

    /// <summary>The guide's bash blocks, continuation lines joined.</summary>
    private static List<string> BashBlocks() =>
        BashBlock().Matches(Guide).Select(m => m.Groups[1].Value.Replace("\\\n", " ")).ToList();

    private static List<string> CurlLines() =>
        BashBlocks().SelectMany(b => b.Split('\n')).Where(l => l.TrimStart().StartsWith("curl ", StringComparison.Ordinal) && l.Contains("$INVOKER_URL")).ToList();

    private static async Task<(int Code, string Output, string Error)> BashAsync(string command, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("set -o pipefail; " + command);
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Poll.DefaultDeadline);
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public void The_guide_has_the_commands_this_test_runs()
    {
        var lines = CurlLines();
        Assert.Contains(lines, l => l.Contains("/api/profiles\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("/probe", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("/api/invoke", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("/refresh", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Contains("| jq", l));
    }

    /// <summary>
    /// The host reads every environment variable as configuration, names case-insensitive: a shell variable of the guide's
    /// named like the Invoker section (the guide once used $INVOKER for the base URL) stops the host from starting.
    /// </summary>
    [Fact]
    public void No_shell_variable_of_the_guide_is_read_as_an_invoker_setting_by_accident()
    {
        var blocks = string.Join("\n", BashBlocks());
        var names = ShellVariable().Matches(blocks).Select(m => m.Groups[1].Value)
            .Concat(Assigned().Matches(blocks).Select(m => m.Groups[1].Value)).Distinct().ToList();
        Assert.Contains("INVOKER_URL", names);
        Assert.Contains("Invoker__Callers__ApiKeys__my_bot", names);
        // A name is a setting only as Invoker__…; "Invoker" itself (any case) would be taken for the whole section.
        Assert.DoesNotContain(names, n => n.Equals("Invoker", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task The_key_minting_lines_make_the_hash_the_host_checks()
    {
        var block = Assert.Single(BashBlocks(), b => b.Contains("sha256sum", StringComparison.Ordinal) && b.Contains("ADMIN=", StringComparison.Ordinal));
        var (code, output, error) = await BashAsync(block + "\necho \"$KEY\"; echo \"$Invoker__Callers__ApiKeys__my_bot\"; echo \"$ADMIN\"; echo \"$Invoker__Callers__AdminKeys__ops\"",
            new Dictionary<string, string>());
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(ApiKeyAuthenticator.HashKey(lines[0]), lines[1]);
        Assert.Equal(ApiKeyAuthenticator.HashKey(lines[2]), lines[3]);
        Assert.NotEqual(lines[0], lines[2]);
    }

    [Fact]
    public async Task Every_curl_line_runs_and_every_field_its_jq_reads_exists()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        await using var host = await InvokerHost.StartAsync(InvokerHost.WithAdminKey(ProfileSettings.Standard(files, backend.Port).Settings));
        var environment = new Dictionary<string, string>
        {
            ["INVOKER_URL"] = host.Client.BaseAddress!.ToString().TrimEnd('/'),
            ["ADMIN"] = InvokerHost.AdminKey,
            ["KEY"] = InvokerHost.ApiKey,
        };
        var problems = new List<string>();
        foreach (var line in CurlLines())
        {
            var command = line.Replace(Partner, $"localhost:{backend.Port}", StringComparison.Ordinal);
            var (code, output, error) = await BashAsync(command, environment);
            if (code != 0 || output.Trim().Length == 0)
            {
                problems.Add($"{line}\n  exit {code}: {error}");
                continue;
            }
            if (line.Contains("/refresh", StringComparison.Ordinal))
            {
                // Step 7's check must show the rotation: replace the file, refresh, and the new certificate is in what it prints.
                files.Pfx("payments.pfx", ProfileSettings.Password, Pki.Intermediate.IssueClient("bot-client-rotated"), Pki.IntermediatePublic);
                var (_, rotated, _) = await BashAsync(command, environment);
                var before = JsonDocument.Parse(output).RootElement;
                var after = JsonDocument.Parse(rotated).RootElement;
                Assert.True(after.GetProperty("changed").GetBoolean(), rotated);
                var evidence = after.EnumerateObject().Where(p => p.Name is not ("changed" or "refreshed")
                    && p.Value.ValueKind is not JsonValueKind.Null && p.Value.ToString() != before.GetProperty(p.Name).ToString()).Select(p => p.Name).ToList();
                Assert.True(evidence.Count > 0, $"the rotation check prints nothing that tells the new certificate from the old: {output} → {rotated}");
            }
            var at = command.LastIndexOf("| jq", StringComparison.Ordinal);
            var filter = JqFilter().Match(command[at..]) is { Success: true } quoted ? quoted.Groups[1].Value : ".";
            var (fetched, reply, fetchError) = await BashAsync(command[..at], environment); // the reply itself
            Assert.True(fetched == 0, fetchError);
            var stages = filter.Split('|').Select(s => s.Trim()).ToArray();
            for (var i = 0; i < stages.Length; i++)
            {
                var context = i == 0 ? "." : string.Join(" | ", stages[..i]);
                foreach (var path in Paths(stages[i]))
                {
                    var check = $"[{context} | {Exists(path)}] | all";
                    var (ok, said, _) = await BashAsync($"jq -e '{check}' <<'JSON'\n{reply}\nJSON", environment);
                    if (ok != 0)
                    {
                        problems.Add($"{line}\n  reads {path} (after '{context}'), which the reply does not hold ({said.Trim()})");
                    }
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>The paths a jq stage reads: <c>.a.b</c>, <c>.a[].b</c>, and object shorthand <c>{a, b}</c> (<c>.a</c>, <c>.b</c>).</summary>
    internal static IEnumerable<string> Paths(string stage)
    {
        foreach (Match path in PathExpression().Matches(stage))
        {
            yield return path.Value;
        }
        foreach (Match key in Shorthand().Matches(stage))
        {
            yield return "." + key.Groups[1].Value;
        }
    }

    /// <summary>A jq expression true when <paramref name="path"/> exists below the current value (has each key; each element of an iterated array).</summary>
    internal static string Exists(string path)
    {
        var segments = path.TrimStart('.').Split('.');
        string Build(int i)
        {
            if (i == segments.Length)
            {
                return "true";
            }
            var iterated = segments[i].EndsWith("[]", StringComparison.Ordinal);
            var name = iterated ? segments[i][..^2] : segments[i];
            var rest = Build(i + 1);
            return iterated
                ? $"(has(\"{name}\") and (.{name} | type == \"array\" and length > 0) and ([.{name}[] | {rest}] | all))"
                : $"(has(\"{name}\") and (.{name} | {rest}))";
        }
        return Build(0);
    }

    [GeneratedRegex("```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    [GeneratedRegex(@"(?:^|export |\s)([A-Za-z_]\w*)=", RegexOptions.Multiline)]
    private static partial Regex Assigned();

    [GeneratedRegex(@"\$\{?([A-Za-z_]\w*)")]
    private static partial Regex ShellVariable();

    [GeneratedRegex(@"\| jq '([^']*)'")]
    private static partial Regex JqFilter();

    [GeneratedRegex(@"(?<![\w\]\)])(\.[A-Za-z_]\w*(\[\])?)+")]
    private static partial Regex PathExpression();

    [GeneratedRegex(@"(?<=[{,])\s*([A-Za-z_]\w*)\s*(?=[,}])")]
    private static partial Regex Shorthand();
}
