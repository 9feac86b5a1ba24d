using Orleans.CastIron.Files;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>The cluster at a glance: its silos, intake, files by status and the Kafka partitions it reads.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterStatus")]
public sealed record ClusterStatus
{
    /// <summary>The active silos.</summary>
    [Id(0)] public ImmutableArray<ClusterSilo> Silos { get; init; } = [];

    /// <summary>True while intake (bucket events and Kafka) is paused on the cluster.</summary>
    [Id(1)] public bool IntakePaused { get; init; }

    /// <summary>The bucket.</summary>
    [Id(2)] public string Bucket { get; init; } = "";

    /// <summary>Files by status; null when the status store did not answer (<see cref="StatusStoreProblem"/> says so).</summary>
    [Id(3)] public ImmutableDictionary<FileStatus, int>? Files { get; init; }

    /// <summary>Why the file counts are missing, or null.</summary>
    [Id(4)] public string? StatusStoreProblem { get; init; }

    /// <summary>The Kafka queues and partitions, when a broker is configured.</summary>
    [Id(5)] public ClusterKafka? Kafka { get; init; }
}

/// <summary>A silo and its membership status.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterSilo")]
public sealed record ClusterSilo([property: Id(0)] string Address, [property: Id(1)] string Status);

/// <summary>Kafka as the cluster reads it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterKafka")]
public sealed record ClusterKafka
{
    /// <summary>True when the pulling agents are stopped (intake paused).</summary>
    [Id(0)] public bool Paused { get; init; }

    /// <summary>Each queue, where it is read and in which state.</summary>
    [Id(1)] public ImmutableArray<ClusterKafkaQueue> Queues { get; init; } = [];

    /// <summary>Each partition: committed and end offsets from Kafka, and its reader's live position where one reads it.</summary>
    [Id(2)] public ImmutableArray<ClusterKafkaPartition> Partitions { get; init; } = [];
}

/// <summary>A queue on the silo reading it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterKafkaQueue")]
public sealed record ClusterKafkaQueue(
    [property: Id(0)] string Queue,
    [property: Id(1)] string? Silo,
    [property: Id(2)] string State,
    [property: Id(3)] long BufferedBytes);

/// <summary>A partition: where it is read, how far, and what holds it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterKafkaPartition")]
public sealed record ClusterKafkaPartition
{
    /// <summary>The topic.</summary>
    [Id(0)] public string Topic { get; init; } = "";

    /// <summary>The partition number.</summary>
    [Id(1)] public int Partition { get; init; }

    /// <summary>The queue reading it, when one does.</summary>
    [Id(2)] public string? Queue { get; init; }

    /// <summary>The silo reading it, when one does.</summary>
    [Id(3)] public string? Silo { get; init; }

    /// <summary>The last offset read, when read here.</summary>
    [Id(4)] public long? LastRead { get; init; }

    /// <summary>The committed offset.</summary>
    [Id(5)] public long Committed { get; init; }

    /// <summary>Everything before it is delivered or dead-lettered, when read here.</summary>
    [Id(6)] public long? DeliveredUpTo { get; init; }

    /// <summary>The end offset, as last learned.</summary>
    [Id(7)] public long? HighWatermark { get; init; }

    /// <summary>Records not yet delivered.</summary>
    [Id(8)] public long? Lag { get; init; }

    /// <summary>A record whose delivery and dead-lettering failed, holding the partition; null when none.</summary>
    [Id(9)] public ClusterHeldRecord? Held { get; init; }
}

/// <summary>A record holding its partition.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ClusterHeldRecord")]
public sealed record ClusterHeldRecord(
    [property: Id(0)] long Offset,
    [property: Id(1)] string Reason,
    [property: Id(2)] int Attempts,
    [property: Id(3)] string LastError,
    [property: Id(4)] DateTimeOffset NextAttempt);
