using System.Net.Http.Json;
using System.Text.Json;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Tests.Infrastructure;

namespace ServiceNodeInvoker.Tests.FunctionsHost;

/// <summary>The Functions app itself, run by the real isolated worker under the host fixture.</summary>
public sealed class FunctionsAppTests
{
    private static readonly TestPki Pki = TestPki.Instance;

    /// <summary>Profile settings as Azure app settings give them: environment variables with __.</summary>
    private static Dictionary<string, string> AppSettings(Dictionary<string, string?> settings) =>
        settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);

    private static HttpRequestMessage Invoke(object body, string? key = WorkerHost.FunctionKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/invoke") { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("x-functions-key", key);
        }
        return request;
    }

    [FunctionsFact]
    public async Task An_envelope_invocation_runs_through_the_real_worker_over_mutual_tls()
    {
        await using var backend = await Pki.StartBackendAsync();
        using var files = new TempFiles();
        var settings = ProfileSettings.Standard(files, backend.Port).Settings;
        settings["Invoker:AllowLoopback"] = "true";
        await using var host = await WorkerHost.StartAsync(AppSettings(settings));

        using var response = await host.SendAsync(Invoke(new { method = "POST", url = $"{backend.BaseAddress}echo", body = new { hello = "functions" } }));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}\n{host.Output}");
        using var envelope = JsonDocument.Parse(text);
        Assert.Equal(200, envelope.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("CN=bot-client-rsa", envelope.RootElement.GetProperty("body").GetProperty("clientCertificate").GetString());
        Assert.True(envelope.RootElement.GetProperty("body").GetProperty("clientChainVerified").GetBoolean());
    }
}
