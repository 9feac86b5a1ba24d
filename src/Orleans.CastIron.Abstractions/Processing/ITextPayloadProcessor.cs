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
    /// <summary>Handles one payload.</summary>
    Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken);
}

/// <summary>Names an <see cref="ITextPayloadProcessor"/>, e.g. <c>etl.example.example_text_stream_processor.process</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class TextPayloadProcessorAttribute(string name) : Attribute
{
    /// <summary>The registered name.</summary>
    public string Name { get; } = name;
}

/// <summary>One streaming payload: <c>data</c> plus every other message field as a named argument.</summary>
public sealed class TextPayload
{
    /// <summary><c>data</c> as text: the string itself, or the JSON text of any other value.</summary>
    public required string Data { get; init; }

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
