using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ServiceNodeInvoker.Configuration;

namespace ServiceNodeInvoker.Endpoints;

/// <summary>
/// <c>POST /api/configuration/reload</c> (admin): reads the configuration's sources again now and applies what changed,
/// checked as start-up checks it — for sources that are not watched, or to be sure. Answers with what this reload did
/// (applied, refused with every problem, or unchanged) and the configuration serving after it. The admin view
/// (<c>GET /api/profiles</c>) shows the same state under <c>configuration</c>.
/// </summary>
internal sealed class ConfigurationEndpoint(LiveConfiguration live, AdminAccess admins)
{
    public async Task<IResult> ReloadAsync(HttpContext context)
    {
        if (admins.Refusal(context, "a configuration reload") is { } refusal)
        {
            return refusal;
        }
        var report = await live.ReloadAsync();
        return Results.Json(Report(report));
    }

    /// <summary>The configuration serving now, when and why it was loaded, what waits for a restart, and the last reload.</summary>
    public JsonObject State() => new()
    {
        ["version"] = live.Live.Version,
        ["loadedAt"] = live.Live.LoadedAt,
        ["trigger"] = live.Live.Trigger,
        ["watched"] = live.Watched,
        ["needsRestart"] = Array(live.NeedsRestart),
        ["lastReload"] = live.Last is { } last ? Report(last) : null,
    };

    /// <summary>What one reload did, and the configuration serving after it.</summary>
    public static JsonObject Report(ReloadReport report) => new()
    {
        ["result"] = report.Result,
        ["at"] = report.At,
        ["trigger"] = report.Trigger,
        ["problems"] = Array(report.Problems),
        ["added"] = Array(report.Added),
        ["changed"] = Array(report.Changed),
        ["removed"] = Array(report.Removed),
        ["callersChanged"] = report.CallersChanged,
        ["needsRestart"] = Array(report.NeedsRestart),
        ["warnings"] = Array(report.Warnings),
        ["live"] = new JsonObject
        {
            ["version"] = report.Live.Version,
            ["loadedAt"] = report.Live.LoadedAt,
            ["trigger"] = report.Live.Trigger,
        },
    };

    private static JsonArray Array(IEnumerable<string> items) => new(items.Select(i => (JsonNode)i).ToArray());
}
