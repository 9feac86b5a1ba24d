using System.Collections.Immutable;

namespace Orleans.CastIron.Streaming.Kafka;

/// <summary>A Kafka record as delivered to stream consumers: raw bytes, decoded by whoever consumes them.</summary>
[GenerateSerializer, Immutable, Alias("castiron.KafkaRecord")]
public sealed record KafkaRecord
{
    [Id(0)] public string Topic { get; init; } = "";

    [Id(1)] public int Partition { get; init; }

    [Id(2)] public long Offset { get; init; }

    /// <summary>The record key as UTF-8 text, when it has one.</summary>
    [Id(3)] public string? Key { get; init; }

    [Id(4)] public byte[] Value { get; init; } = [];

    [Id(5)] public DateTimeOffset Timestamp { get; init; }

    /// <summary>The record's headers with their values as UTF-8 text (the last of a repeated name), or null when it has none.</summary>
    [Id(6)] public ImmutableDictionary<string, string>? Headers { get; init; }

    /// <summary><c>topic/partition@offset</c>, for logs and dead letters.</summary>
    public override string ToString() => $"{Topic}/{Partition}@{Offset}";
}
