using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Transport;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>
/// The pipeline's own behaviour, in-process and without a socket (<see cref="PipelineHarness"/>): each mode's answer,
/// the limits, the header policy, the failure mapping and the token step, against a backend that is a handler
/// answering exactly what a test scripts. TLS, the wire witness and the hosts are the real-socket tests' part.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class PipelineTests
{
    private static readonly string Url = $"{PipelineHarness.Backend}orders/7?expand=lines";

    private static HttpResponseMessage Answer(HttpStatusCode status, string body, string mediaType = "application/json", Action<HttpResponseMessage>? edit = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        edit?.Invoke(response);
        return response;
    }

    [Fact]
    public async Task Envelope_embeds_the_backends_answer_and_the_backend_gets_the_callers_request_by_the_header_policy()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.Created, """{"id":"ch_1"}""", edit: r => r.Headers.Add("x-backend", "yes")));

        var reply = await InvokerHost.ReadAsync(await harness.InvokeAsync(new
        {
            method = "POST", url = Url, body = new { amount = 10 },
            headers = new Dictionary<string, string> { ["x-trace"] = "t-1", ["Connection"] = "close, x-trace", ["Keep-Alive"] = "timeout=5" },
        }), 200);

        Assert.Equal(201, reply.GetProperty("status").GetInt32());
        Assert.Equal("ch_1", reply.GetProperty("body").GetProperty("id").GetString());
        Assert.Equal("yes", reply.GetProperty("headers").GetProperty("x-backend")[0].GetString());
        var sent = Assert.Single(harness.Sent);
        Assert.Equal(HttpMethod.Post, sent.Method);
        Assert.Equal(Url, sent.Url.ToString());
        Assert.Equal("""{"amount":10}""", Encoding.UTF8.GetString(sent.Body!));
        Assert.Equal("application/json", sent.Header("Content-Type")?.Split(';')[0]);
        // Hop-by-hop headers (and those Connection names) are the caller's connection's, never the backend's.
        Assert.Null(sent.Header("Keep-Alive"));
        Assert.Null(sent.Header("x-trace"));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 3001 && e.Message.Contains("(envelope)"));
    }

    [Fact]
    public async Task Passthrough_relays_status_headers_and_body_and_names_its_duration()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.Accepted, "queued", "text/plain", r => r.Headers.Add("x-backend", "yes")));

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });

        Assert.Equal(202, (int)reply.StatusCode);
        Assert.Equal("queued", await reply.Content.ReadAsStringAsync());
        Assert.Equal("yes", Assert.Single(reply.Headers.GetValues("x-backend")));
        Assert.Equal("text/plain", reply.Content.Headers.ContentType?.MediaType);
        Assert.True(double.Parse(Assert.Single(reply.Headers.GetValues(InvokerHeaders.Duration)), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.False(reply.Headers.Contains(InvokerHeaders.Error));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 3001 && e.Message.Contains("(passthrough)"));
    }

    [Fact]
    public async Task A_backend_cannot_pose_as_the_invoker_with_invoker_headers_of_its_own()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.ServiceUnavailable, "{}", edit: r =>
        {
            r.Headers.TryAddWithoutValidation(InvokerHeaders.Error, ErrorCodes.Busy);
            r.Headers.TryAddWithoutValidation(InvokerHeaders.Token, "refreshed");
            r.Headers.TryAddWithoutValidation("x-backend", "yes");
        }));

        using var passthrough = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });

        Assert.Equal(503, (int)passthrough.StatusCode);
        Assert.False(passthrough.Headers.Contains(InvokerHeaders.Error)); // the backend's 503, not an invoker problem
        Assert.False(passthrough.Headers.Contains(InvokerHeaders.Token));
        Assert.Equal("yes", Assert.Single(passthrough.Headers.GetValues("x-backend")));
        var envelope = await InvokerHost.ReadAsync(await harness.InvokeAsync(new { method = "GET", url = Url }), 200);
        Assert.Equal(ErrorCodes.Busy, envelope.GetProperty("headers").GetProperty(InvokerHeaders.Error)[0].GetString()); // shown as the backend's
    }

    [Fact]
    public async Task A_header_HTTP_cannot_carry_is_refused_by_the_modes_that_relay_headers_and_carried_by_the_envelope()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.OK, "{}", edit: r => r.Headers.TryAddWithoutValidation("x-odd", "a\u0001b")));

        using var passthrough = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });
        var problem = await InvokerHost.AssertProblemAsync(passthrough, 502, ErrorCodes.InvalidBackendResponse);
        Assert.Contains("control character (0x01)", problem.GetProperty("detail").GetString());

        var envelope = await InvokerHost.ReadAsync(await harness.InvokeAsync(new { method = "GET", url = Url }), 200);
        Assert.Equal("a\u0001b", envelope.GetProperty("headers").GetProperty("x-odd")[0].GetString());
    }

    [Fact]
    public async Task A_declared_length_over_MaxResponseBytes_is_refused_before_any_body_is_read_in_every_mode()
    {
        var bodyRead = 0;
        await using var harness = PipelineHarness.Start(_ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new CountingStream(() => Interlocked.Increment(ref bodyRead), 4096)) };
            response.Content.Headers.ContentLength = 4096;
            return response;
        }, (settings, _) => settings["Invoker:Profiles:payments:MaxResponseBytes"] = "1000");

        foreach (var mode in new[] { "envelope", "passthrough" })
        {
            using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, response = mode });
            var problem = await InvokerHost.AssertProblemAsync(reply, 502, ErrorCodes.ResponseTooLarge);
            Assert.Contains("larger than 1000 bytes", problem.GetProperty("detail").GetString());
        }
        Assert.Equal(0, bodyRead);
    }

    [Fact]
    public async Task A_body_that_outgrows_MaxResponseBytes_unannounced_is_refused_in_the_envelope_and_before_the_first_byte_in_passthrough()
    {
        await using var harness = PipelineHarness.Start(_ =>
            new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(new byte[5000])) }, // no Content-Length: chunked
            (settings, _) => settings["Invoker:Profiles:payments:MaxResponseBytes"] = "1000");

        using var envelope = await harness.InvokeAsync(new { method = "GET", url = Url });
        await InvokerHost.AssertProblemAsync(envelope, 502, ErrorCodes.ResponseTooLarge);
        using var passthrough = await harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" });
        await InvokerHost.AssertProblemAsync(passthrough, 502, ErrorCodes.ResponseTooLarge);
    }

    [Fact]
    public async Task Forward_answers_the_callers_own_HEAD_with_the_backends_length_and_passthrough_names_it_apart()
    {
        await using var harness = PipelineHarness.Start(_ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            response.Content.Headers.ContentLength = 1234;
            return response;
        }, (settings, _) => settings["Invoker:Profiles:payments:BaseUrl"] = $"{PipelineHarness.Backend}api");

        using var forward = await harness.ForwardAsync(HttpMethod.Head, "payments", "files/1");
        Assert.Equal(200, (int)forward.StatusCode);
        Assert.Equal(1234, forward.Content.Headers.ContentLength);
        Assert.Equal($"{PipelineHarness.Backend}api/files/1", harness.Sent[^1].Url.ToString());

        using var passthrough = await harness.InvokeAsync(new { method = "HEAD", url = Url, response = "passthrough" });
        Assert.Equal("1234", Assert.Single(passthrough.Headers.GetValues(InvokerHeaders.BackendContentLength)));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 3001 && e.Message.Contains("(forward)"));
    }

    [Fact]
    public async Task A_passthrough_body_that_breaks_after_its_first_bytes_left_is_a_cut_connection_never_a_truncated_success()
    {
        await using var harness = PipelineHarness.Start(_ =>
            new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BreakingStream(firstBytes: 100)) });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url, response = "passthrough" }));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 3003 && e.Message.Contains("broke off"));

        // The envelope has not written anything when the body breaks: the caller gets a problem naming it.
        using var envelope = await harness.InvokeAsync(new { method = "GET", url = Url });
        Assert.InRange((int)envelope.StatusCode, 502, 504);
        Assert.True(envelope.Headers.Contains(InvokerHeaders.Error));
    }

    [Fact]
    public async Task A_refused_connection_is_a_backend_failure_named_by_the_classifier_and_logged_with_its_profile()
    {
        await using var harness = PipelineHarness.Start((_, _) =>
            Task.FromException<HttpResponseMessage>(new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused))));

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url });

        var problem = await InvokerHost.AssertProblemAsync(reply, 502, ErrorCodes.BackendUnreachable);
        Assert.Equal(FailureCauses.ConnectionRefused, problem.GetProperty("cause").GetString());
        var logged = Assert.Single(harness.Logs.Entries, e => e.EventId.Id == 2002);
        Assert.Contains("profile payments GET localhost:44300", logged.Message);
        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id == 3002); // logged once, as the backend's failure
    }

    [Fact]
    public async Task An_answer_that_cannot_be_framed_is_refused_and_its_transport_is_not_reused()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.OK, "{}", edit: r =>
        {
            r.Content.Headers.Remove("Content-Length");
            r.Content.Headers.TryAddWithoutValidation("Content-Length", ["2", "3"]);
        }));
        var pool = harness.Services.GetRequiredService<TransportPool>();

        using var first = await harness.InvokeAsync(new { method = "GET", url = Url });
        await InvokerHost.AssertProblemAsync(first, 502, ErrorCodes.InvalidBackendResponse);
        var before = pool.CurrentFor("payments");
        using var second = await harness.InvokeAsync(new { method = "GET", url = Url });
        await InvokerHost.AssertProblemAsync(second, 502, ErrorCodes.InvalidBackendResponse);

        Assert.NotNull(before);
        Assert.NotSame(before, pool.CurrentFor("payments"));
    }

    [Fact]
    public async Task The_calls_timeout_is_a_504_and_the_backend_request_is_cancelled()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = PipelineHarness.Start(async (request, token) =>
        {
            if (request.RequestUri!.AbsolutePath == "/ready")
            {
                return new HttpResponseMessage(HttpStatusCode.NoContent);
            }
            await using var registration = token.Register(() => cancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, token);
            return null!;
        });
        // The certificate loaded first: the short timeout below is the backend's alone, not also the cold load's.
        using (var ready = await harness.InvokeAsync(new { method = "GET", url = $"{PipelineHarness.Backend}ready" }))
        {
            Assert.Equal(200, (int)ready.StatusCode);
        }

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url, timeoutSeconds = 0.2 });

        var problem = await InvokerHost.AssertProblemAsync(reply, 504, ErrorCodes.BackendTimeout);
        Assert.Equal(FailureCauses.ResponseTimeout, problem.GetProperty("cause").GetString());
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_caller_that_goes_away_gets_no_reply_at_all_never_an_empty_success()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = PipelineHarness.Start(async (_, token) =>
        {
            gone.Cancel(); // the caller closes its connection while the backend works
            await Task.Delay(Timeout.Infinite, token);
            return null!;
        });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));
        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
    }

    [Fact]
    public async Task An_unknown_caller_and_a_caller_without_a_grant_are_refused_before_the_backend_is_called()
    {
        await using var harness = PipelineHarness.Start(_ => Answer(HttpStatusCode.OK, "{}"), (settings, _) =>
        {
            settings["Invoker:Callers:ApiKeys:other-bot"] = ServiceNodeInvoker.Endpoints.InvokerApi.HashApiKey("other-key-0123456789");
            settings["Invoker:Callers:Grants:other-bot:0"] = "payments";
            foreach (var (key, value) in settings.Where(s => s.Key.StartsWith("Invoker:Profiles:payments:")).ToList())
            {
                settings[key.Replace(":payments:", ":billing:")] = value;
            }
            settings["Invoker:Profiles:billing:Hosts:0"] = "billing.example:443";
            settings["Invoker:Callers:Grants:test-bot:0"] = "billing";
        });

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url });
        var problem = await InvokerHost.AssertProblemAsync(reply, 403, ErrorCodes.CallerNotAllowed);
        Assert.Contains("'test-bot' has no grant for profile 'payments'", problem.GetProperty("detail").GetString());
        Assert.Empty(harness.Sent);
    }

    [Fact]
    public async Task A_caller_gone_while_a_possible_refusal_page_is_read_gets_no_reply_never_a_500_and_nothing_is_held()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = PipelineHarness.Start(_ =>
        {
            // A small 403 HTML page (it may be a certificate refusal, so it is read to look) that never arrives.
            var page = new HttpResponseMessage(HttpStatusCode.Forbidden) { Content = new StreamContent(new StallingStream(gone)) };
            page.Content.Headers.ContentType = new MediaTypeHeaderValue("text/html");
            page.Content.Headers.ContentLength = 200;
            return page;
        });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));

        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_caller_gone_once_the_envelope_is_read_is_cut_quietly_never_an_escaped_exception()
    {
        using var gone = new CancellationTokenSource();
        await using var harness = PipelineHarness.Start(_ =>
            new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new LeavingAtEndStream(gone, length: 100)) });

        // The body is read whole; the caller closes its connection before the envelope is written.
        await Assert.ThrowsAsync<HttpRequestException>(() => harness.InvokeAsync(new { method = "GET", url = Url }, gone.Token));

        Assert.Empty(harness.Unhandled);
        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id is 2002 or 3002);
        await harness.AssertNoLeaseHeldAsync();
    }

    [Fact]
    public async Task A_body_broken_while_the_envelope_reads_it_is_a_502_and_nothing_is_held()
    {
        await using var harness = PipelineHarness.Start(_ =>
            new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BreakingStream(firstBytes: 100)) });

        using var reply = await harness.InvokeAsync(new { method = "GET", url = Url });

        await InvokerHost.AssertProblemAsync(reply, 502, ErrorCodes.BackendUnreachable);
        await harness.AssertNoLeaseHeldAsync();
    }

    /// <summary>A body whose first read waits until the caller goes away; the read then fails as a socket's does when its connection is torn down.</summary>
    private sealed class StallingStream(CancellationTokenSource caller) : Stream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            caller.Cancel();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException e)
            {
                throw new IOException("The connection was closed while the body was read.", e);
            }
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A body that gives its first bytes, then breaks like a connection reset.</summary>
    private sealed class BreakingStream(int firstBytes) : MemoryStream(new byte[firstBytes])
    {
        public override int Read(byte[] buffer, int offset, int count) =>
            base.Read(buffer, offset, count) is > 0 and var read ? read : throw new IOException("Unable to read data from the transport connection: Connection reset by peer.");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override int Read(Span<byte> buffer) =>
            base.Read(buffer) is > 0 and var read ? read : throw new IOException("Unable to read data from the transport connection: Connection reset by peer.");
    }

    /// <summary>A whole body whose last bytes, once read, are when the caller goes away.</summary>
    private sealed class LeavingAtEndStream(CancellationTokenSource caller, int length) : MemoryStream(new byte[length])
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = Read(buffer.Span);
            if (Position == Length)
            {
                caller.Cancel();
            }
            return ValueTask.FromResult(read);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>A body stream that counts its reads.</summary>
    private sealed class CountingStream(Action read, int length) : MemoryStream(new byte[length])
    {
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            read();
            return base.ReadAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            read();
            return base.ReadAsync(buffer, cancellationToken);
        }
    }
}
