namespace Orleans.CastIron.Streaming.Kafka;

/// <summary>One topic read by the provider.</summary>
public sealed class KafkaTopicOptions
{
    /// <summary>The Kafka topic.</summary>
    public string Name { get; set; } = "";

    /// <summary>Consumer group whose committed offsets record what was delivered (the seed's group names).</summary>
    public string GroupId { get; set; } = "";

    /// <summary>Orleans stream namespace of the topic's records; implicit subscribers name it. Default: the topic name.</summary>
    public string? StreamNamespace { get; set; }

    /// <summary>
    /// JSON field of the value used as stream key when a record has no key. Records with neither need no order and
    /// are spread over <see cref="KafkaStreamOptions.UnkeyedStreamsPerPartition"/> streams per partition.
    /// </summary>
    public string? KeyField { get; set; }

    /// <summary>Dead-letter topic for records that cannot be delivered. Default: <c>&lt;topic&gt;-dlq</c>.</summary>
    public string? DeadLetterTopic { get; set; }

    internal string Namespace => StreamNamespace ?? Name;

    internal string DeadLetter => DeadLetterTopic ?? $"{Name}-dlq";
}

/// <summary>Settings of a Kafka stream provider (validated and logged at silo start).</summary>
public sealed class KafkaStreamOptions
{
    /// <summary>Bootstrap servers, <c>host:port[,host:port]</c>. Required.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>The topics read. At least one.</summary>
    public List<KafkaTopicOptions> Topics { get; set; } = [];

    /// <summary>librdkafka settings passed to every client as they are (e.g. <c>security.protocol</c>, <c>sasl.*</c>).</summary>
    [Redact]
    public Dictionary<string, string> ClientSettings { get; set; } = [];

    /// <summary>
    /// Orleans queues per topic. A topic's partitions are spread over its queues (partition <c>p</c> is read by queue
    /// <c>p mod QueuesPerTopic</c>), and Orleans balances queues over silos. Fixed by configuration, so every silo
    /// agrees whatever it has learned of the topic; partitions added later join their queue. Default 8.
    /// </summary>
    public int QueuesPerTopic { get; set; } = 8;

    /// <summary>Largest record fetched, in bytes. Default 20 MiB (the seed's <c>KAFKA_MAX_PARTITION_FETCH_BYTES</c>).</summary>
    public int MaxMessageBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>
    /// Memory bound of one queue, in bytes: records read but not yet delivered stop further reading at this size, and
    /// librdkafka's prefetch (<c>queued.max.messages.kbytes</c>, <c>fetch.max.bytes</c>) is held to it too. A busy
    /// queue holds at most about twice this plus one record. Default 16 MiB.
    /// </summary>
    public int BufferBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Most records read per pull (the seed's <c>KAFKA_MAX_POLL_RECORDS</c>). Default 1000.</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>
    /// Streams (hence consumer grains) that the records of one partition without a key are spread over: they need no
    /// order, so they need not wait for each other. Default twice the processor count.
    /// </summary>
    public int UnkeyedStreamsPerPartition { get; set; } = 2 * Environment.ProcessorCount;

    /// <summary>How often topics are looked at again for new partitions (and for topics that do not exist yet). Default 30 s.</summary>
    public TimeSpan TopologyRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one metadata request may take. Default 10 s.</summary>
    public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the delivered position of each partition is committed. Default 1 s.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a silo's claim on a queue lasts without renewal. A queue moving between silos is read by the new owner
    /// only after the old one committed and let go, or after its silo is dead, or after this long. Default 30 s.
    /// </summary>
    public TimeSpan OwnershipLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Name of a grain storage provider that keeps each queue's claim (written when a reader takes or lets go of a
    /// queue, not at renewals). With it, a claim grain whose activation was lost with its silo still knows who holds
    /// the queue, and a new reader waits for that holder as it would have. Null (the default): claims are in memory,
    /// and a lost claim grant goes at once to the next reader, while the old one may still read until its next
    /// renewal (records read twice; none lost).
    /// </summary>
    public string? ClaimStorage { get; set; }

    /// <summary>
    /// How long a dead-letter produce may take before it counts as failed. Default 5 s: a consumer that dead-letters a
    /// record does so within its handler deadline and Orleans' response timeout.
    /// </summary>
    public TimeSpan DeadLetterTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Longest wait between attempts to dead-letter a record whose first attempt failed (its partition holds
    /// meanwhile; attempts back off from 1 s). Default 30 s.
    /// </summary>
    public TimeSpan HeldRetryMaxInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Problems with these settings, each naming the setting.</summary>
    public IEnumerable<string> Validate(string name)
    {
        var prefix = $"Kafka stream provider '{name}':";
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            yield return $"{prefix} {nameof(BootstrapServers)} is required";
        }

        if (Topics.Count == 0)
        {
            yield return $"{prefix} at least one topic is required";
        }

        foreach (var topic in Topics)
        {
            if (string.IsNullOrWhiteSpace(topic.Name))
            {
                yield return $"{prefix} a topic has no {nameof(KafkaTopicOptions.Name)}";
            }

            if (string.IsNullOrWhiteSpace(topic.GroupId))
            {
                yield return $"{prefix} topic '{topic.Name}' has no {nameof(KafkaTopicOptions.GroupId)}";
            }
        }

        if (Topics.GroupBy(t => t.Namespace, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            yield return $"{prefix} two topics use the same stream namespace";
        }

        if (Topics.GroupBy(t => t.Name, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            yield return $"{prefix} a topic is listed twice";
        }

        if (QueuesPerTopic is < 1 or > 1024)
        {
            yield return $"{prefix} {nameof(QueuesPerTopic)} must be between 1 and 1024 (is {QueuesPerTopic})";
        }

        if (MaxMessageBytes < 1024)
        {
            yield return $"{prefix} {nameof(MaxMessageBytes)} must be at least 1024 (is {MaxMessageBytes})";
        }

        if (BufferBytes < 1024 * 1024)
        {
            yield return $"{prefix} {nameof(BufferBytes)} must be at least 1 MiB (is {BufferBytes})";
        }

        if (BatchSize < 1)
        {
            yield return $"{prefix} {nameof(BatchSize)} must be at least 1 (is {BatchSize})";
        }

        if (UnkeyedStreamsPerPartition is < 1 or > 4096)
        {
            yield return $"{prefix} {nameof(UnkeyedStreamsPerPartition)} must be between 1 and 4096 (is {UnkeyedStreamsPerPartition})";
        }

        foreach (var (setting, value) in new[]
        {
            (nameof(TopologyRefreshInterval), TopologyRefreshInterval),
            (nameof(MetadataTimeout), MetadataTimeout),
            (nameof(CommitInterval), CommitInterval),
            (nameof(OwnershipLease), OwnershipLease),
            (nameof(DeadLetterTimeout), DeadLetterTimeout),
            (nameof(HeldRetryMaxInterval), HeldRetryMaxInterval),
        })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{prefix} {setting} must be positive (is {value})";
            }
        }

        if (OwnershipLease <= CommitInterval)
        {
            yield return $"{prefix} {nameof(OwnershipLease)} ({OwnershipLease}) must be longer than {nameof(CommitInterval)} ({CommitInterval}): the claim is renewed with each commit";
        }
    }
}
