namespace ServiceNodeInvoker.TestSupport;

/// <summary>What every nginx the tests and benchmarks start has at the top of its nginx.conf.</summary>
public static class NginxConfig
{
    /// <summary>In the foreground, its pid and temp files under <paramref name="prefix"/>, errors to stderr.</summary>
    public static string Preamble(string prefix, int workers, int connections) => $$"""
        daemon off;
        worker_processes {{workers}};
        pid {{prefix}}/nginx.pid;
        error_log stderr error;
        events { worker_connections {{connections}}; }
        """;
}
