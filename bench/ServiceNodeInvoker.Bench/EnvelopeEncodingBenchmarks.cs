using ServiceNodeInvoker.Invocation;
using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Endpoints;

namespace ServiceNodeInvoker.Bench;

/// <summary>
/// What embedding a large body in JSON costs, both ways, next to System.Text.Json's best and a copy.
/// Response side: our <see cref="EnvelopeWriter.WriteBody"/> for a JSON body (checks UTF-8 and JSON, then
/// writes it raw), System.Text.Json's own validating raw write, the unchecked raw write (a copy: the
/// floor), a string (escaping) and base64. Request side: our request reader, which tokenizes an
/// embedded JSON body once to find its end, next to a Utf8JsonReader pass alone. Output goes to a
/// pooled buffer sized from the length, as in the envelope.
/// </summary>
[MemoryDiagnoser]
public class EnvelopeEncodingBenchmarks
{
    private byte[] _json = null!;
    private byte[] _request = null!;
    private ArrayBufferWriter<byte> _output = null!;
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    [Params(64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _json = LoadHarness.Payload(Size);
        _request = [.. "{\"method\":\"POST\",\"url\":\"https://localhost:1/data\",\"body\":"u8, .. _json, .. "}"u8];
        _output = new ArrayBufferWriter<byte>(Size * 4 / 3 + 4096);
    }

    private Utf8JsonWriter Writer()
    {
        _output.ResetWrittenCount();
        return new Utf8JsonWriter(_output, EnvelopeWriter.WriterOptions);
    }

    private int Body(Action<Utf8JsonWriter> write)
    {
        using var writer = Writer();
        writer.WriteStartObject();
        write(writer);
        writer.WriteEndObject();
        writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark(Baseline = true, Description = "copy (raw, unchecked): the floor")]
    public int RawCopy() => Body(w => { w.WritePropertyName("body"); w.WriteRawValue(_json, skipInputValidation: true); });

    [Benchmark(Description = "ours: JSON body (UTF-8 + JSON checked, raw write)")]
    public int OursJson() => Body(w => EnvelopeWriter.WriteBody(w, Json, _json));

    [Benchmark(Description = "System.Text.Json WriteRawValue (validating)")]
    public int StjRawValidating() => Body(w => { w.WritePropertyName("body"); w.WriteRawValue(_json, skipInputValidation: false); });

    [Benchmark(Description = "as a JSON string (escaped)")]
    public int AsString() => Body(w => w.WriteString("body", _json));

    [Benchmark(Description = "base64")]
    public int Base64() => Body(w => w.WriteBase64String("body", _json));

    [Benchmark(Description = "request: our reader (body embedded as JSON)")]
    public int ParseRequest() => InvocationRequestParser.Parse(_request).Body!.Content.Length;

    [Benchmark(Description = "request: one Utf8JsonReader pass")]
    public int ReaderPass()
    {
        var reader = new Utf8JsonReader(_request);
        var tokens = 0;
        while (reader.Read()) { tokens++; }
        return tokens;
    }
}
