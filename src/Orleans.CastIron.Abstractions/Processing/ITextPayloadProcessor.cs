using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Processing;

/// <summary>
/// Handles a streaming payload (<c>castiron_text_payload</c> / <c>castiron_video_payload</c>). A message names its
/// handler in <c>worker_run_method</c>; only handlers registered with <see cref="TextPayloadProcessorAttribute"/> can be
/// named (an allow-list: seed bug B-28 let a message call anything importable). Throwing dead-letters the message.
/// </summary>
public interface ITextPayloadProcessor
{
    /// <summary>
    /// Handles one payload. <paramref name="cancellationToken"/> is cancelled at the consumer's deadline
    /// (<c>CastIron:Kafka:HandlerTimeout</c>): the payload is then dead-lettered as timed out and not waited for.
    /// </summary>
    Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken);
}

/// <summary>Names an <see cref="ITextPayloadProcessor"/>, e.g. <c>etl.example.example_text_stream_processor.process</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class TextPayloadProcessorAttribute(string name) : Attribute
{
    /// <summary>The registered name.</summary>
    public string Name { get; } = name;

    /// <summary>
    /// A built-in stand-in for the Python handler of the same name (the seed's examples): it runs only when that
    /// handler is allowed on Python and found on <c>CastIron:Python:Path</c>.
    /// </summary>
    public bool PythonStandIn { get; init; }
}

/// <summary>One streaming payload: <c>data</c> plus every other message field as a named argument.</summary>
public sealed class TextPayload
{
    private string? _data;
    private ReadOnlyMemory<byte>? _dataUtf8;

    /// <summary>
    /// <c>data</c> as text: the string itself, or the JSON text of any other value. Given as
    /// <see cref="DataUtf8"/>, it is decoded at the first read, so a handler that only reads the bytes never builds
    /// the text (twice the payload's size in memory).
    /// </summary>
    public string Data
    {
        get => _data ??= Encoding.UTF8.GetString(_dataUtf8.GetValueOrDefault().Span);
        init => _data = value;
    }

    /// <summary>
    /// <c>data</c> as UTF-8 (the same content as <see cref="Data"/>): what large payloads such as video should be
    /// read as, being a view of the received record rather than a copy. Given as <see cref="Data"/>, it is encoded at
    /// the first read.
    /// </summary>
    public ReadOnlyMemory<byte> DataUtf8
    {
        get => _dataUtf8 ??= Encoding.UTF8.GetBytes(_data ?? "");
        init => _dataUtf8 = value;
    }

    /// <summary>The other fields of the message (not <c>worker_run_method</c>, not <c>data</c>).</summary>
    public required IReadOnlyDictionary<string, JsonElement> Arguments { get; init; }

    /// <summary>Where it came from: <c>topic/partition@offset</c>.</summary>
    public required string Origin { get; init; }

    /// <summary>A logger for the handler.</summary>
    public required ILogger Logger { get; init; }

    /// <summary>A named argument as text, or <see langword="null"/> when absent.</summary>
    public string? Argument(string name) =>
        Arguments.TryGetValue(name, out var value) ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText() : null;
}
