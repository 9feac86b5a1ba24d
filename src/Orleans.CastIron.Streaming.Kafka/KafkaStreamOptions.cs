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
    /// JSON field of the value used as stream key when a record has no key. Records with neither keep per-partition
    /// order: their stream key is the partition.
    /// </summary>
    public string? KeyField { get; set; }

    /// <summary>Dead-letter topic for records that cannot be delivered. Default: <c>&lt;topic&gt;-dlq</c>.</summary>
    public string? DeadLetterTopic { get; set; }

    internal string Namespace => StreamNamespace ?? Name;

    internal string DeadLetter => DeadLetterTopic ?? $"{Name}-dlq";
}

/// <summary>Settings of a Kafka stream provider (validated at silo start).</summary>
public sealed class KafkaStreamOptions
{
    /// <summary>Bootstrap servers, <c>host:port[,host:port]</c>. Required.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>The topics read. At least one.</summary>
    public List<KafkaTopicOptions> Topics { get; set; } = [];

    /// <summary>librdkafka settings passed to every client as they are (e.g. <c>security.protocol</c>, <c>sasl.*</c>).</summary>
    [Redact]
    public Dictionary<string, string> ClientSettings { get; set; } = [];

    /// <summary>Partitions assumed for a topic the brokers do not know yet (it is created on first use). Default 4.</summary>
    public int DefaultPartitionCount { get; set; } = 4;

    /// <summary>Largest record fetched, in bytes. Default 20 MiB (the seed's video setting).</summary>
    public int MaxMessageBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>How long to wait for cluster metadata at start. Default 10 s.</summary>
    public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Problems with these settings, each naming the setting.</summary>
    public IEnumerable<string> Validate(string name)
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            yield return $"Kafka stream provider '{name}': {nameof(BootstrapServers)} is required";
        }

        if (Topics.Count == 0)
        {
            yield return $"Kafka stream provider '{name}': at least one topic is required";
        }

        foreach (var topic in Topics)
        {
            if (string.IsNullOrWhiteSpace(topic.Name))
            {
                yield return $"Kafka stream provider '{name}': a topic has no {nameof(KafkaTopicOptions.Name)}";
            }

            if (string.IsNullOrWhiteSpace(topic.GroupId))
            {
                yield return $"Kafka stream provider '{name}': topic '{topic.Name}' has no {nameof(KafkaTopicOptions.GroupId)}";
            }
        }

        if (Topics.GroupBy(t => t.Namespace, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            yield return $"Kafka stream provider '{name}': two topics use the same stream namespace";
        }

        if (DefaultPartitionCount < 1)
        {
            yield return $"Kafka stream provider '{name}': {nameof(DefaultPartitionCount)} must be at least 1";
        }

        if (MaxMessageBytes < 1024)
        {
            yield return $"Kafka stream provider '{name}': {nameof(MaxMessageBytes)} must be at least 1024";
        }
    }
}
