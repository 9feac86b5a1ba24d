using System.Collections.Concurrent;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>The queues a provider reads on this silo, for its status (cluster-wide through the provider's control command).</summary>
public sealed class KafkaStreamControl(string providerName)
{
    private readonly ConcurrentDictionary<KafkaQueueAdapterReceiver, byte> _receivers = new();

    public string ProviderName { get; } = providerName;

    /// <summary>The status of every queue read here.</summary>
    public IReadOnlyList<KafkaQueueStatus> Queues() => [.. _receivers.Keys.Select(r => r.Status()).OrderBy(q => q.Queue, StringComparer.Ordinal)];

    internal void Attach(KafkaQueueAdapterReceiver receiver) => _receivers.TryAdd(receiver, 0);

    internal void Detach(KafkaQueueAdapterReceiver receiver) => _receivers.TryRemove(receiver, out _);
}

/// <summary>One queue on one silo: its state (<c>reading</c>, <c>holding</c>, <c>waiting for the previous reader</c>, <c>fenced</c>, <c>stopped</c>) and partitions.</summary>
[GenerateSerializer, Immutable, Alias("castiron.KafkaQueueStatus")]
public sealed record KafkaQueueStatus(
    [property: Id(0)] string Queue,
    [property: Id(1)] string State,
    [property: Id(2)] long BufferedBytes,
    [property: Id(3)] IReadOnlyList<KafkaPartitionStatus> Partitions)
{
    /// <summary>The silo reading it (filled in when statuses are gathered across the cluster).</summary>
    [Id(4)] public string? Silo { get; init; }
}

/// <summary>
/// One partition: the last offset read, the committed offset, the next offset to commit (everything before it is
/// delivered or dead-lettered), the end offset as last learned, and the record holding it, if any.
/// </summary>
[GenerateSerializer, Immutable, Alias("castiron.KafkaPartitionStatus")]
public sealed record KafkaPartitionStatus(
    [property: Id(0)] string Topic,
    [property: Id(1)] int Partition,
    [property: Id(2)] long LastRead,
    [property: Id(3)] long Committed,
    [property: Id(4)] long DeliveredUpTo,
    [property: Id(5)] long? HighWatermark,
    [property: Id(6)] KafkaHeldRecord? Held)
{
    /// <summary>Records not yet delivered: end offset minus the delivered position.</summary>
    public long? Lag => HighWatermark is { } high ? Math.Max(0, high - Math.Max(Math.Max(DeliveredUpTo, Committed), 0)) : null;
}

/// <summary>A record whose delivery and dead-lettering both failed: its partition commits nothing past it until a retry succeeds.</summary>
[GenerateSerializer, Immutable, Alias("castiron.KafkaHeldRecord")]
public sealed record KafkaHeldRecord(
    [property: Id(0)] long Offset,
    [property: Id(1)] string Reason,
    [property: Id(2)] int Attempts,
    [property: Id(3)] string LastError,
    [property: Id(4)] DateTimeOffset NextAttempt);
