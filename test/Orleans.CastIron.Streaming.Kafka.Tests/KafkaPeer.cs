using Confluent.Kafka;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

/// <summary>
/// The Kafka peer for integration tests: the broker named by <c>KAFKA_BOOTSTRAP_SERVERS</c> when set, otherwise
/// librdkafka's mock cluster, which speaks the Kafka protocol on loopback TCP and lives as long as its owner client.
/// </summary>
public sealed class KafkaPeer : IDisposable
{
    private readonly IProducer<byte[]?, byte[]>? _owner;

    public KafkaPeer()
    {
        var external = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            BootstrapServers = external;
            return;
        }

        var config = new ProducerConfig { BootstrapServers = "localhost:1" };
        config.Set("test.mock.num.brokers", "1");
        _owner = new ProducerBuilder<byte[]?, byte[]>(config).Build();
        using var admin = new DependentAdminClientBuilder(_owner.Handle).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        BootstrapServers = string.Join(",", metadata.Brokers.Select(b => $"{b.Host}:{b.Port}"));
    }

    public string BootstrapServers { get; }

    public static string NewTopic(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public IProducer<string?, string> CreateProducer() =>
        new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = BootstrapServers, LingerMs = 5 }).Build();

    public IConsumer<string?, string> CreateConsumer(string groupId) =>
        new ConsumerBuilder<string?, string>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();

    /// <summary>Committed offsets of <paramref name="groupId"/> on <paramref name="topic"/>, summed over partitions.</summary>
    public long CommittedTotal(string topic, string groupId, int partitions)
    {
        using var consumer = CreateConsumer(groupId);
        var committed = consumer.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10));
        return committed.Sum(c => c.Offset.Value < 0 ? 0 : c.Offset.Value);
    }

    /// <summary>
    /// Every record of <paramref name="topic"/> (reads all partitions from the start): at least
    /// <paramref name="expected"/> within <paramref name="timeout"/>, then on until none arrived for
    /// <paramref name="quiet"/> (default 2 s), so a test asserting exactly <paramref name="expected"/> records also sees
    /// a duplicate or an extra one.
    /// </summary>
    public List<ConsumeResult<string?, string>> ReadAll(string topic, int expected, TimeSpan timeout, TimeSpan? quiet = null)
    {
        using var consumer = CreateConsumer("reader-" + Guid.NewGuid().ToString("N"));
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var results = new List<ConsumeResult<string?, string>>();
        var deadline = DateTime.UtcNow + timeout;
        var quietFor = quiet ?? TimeSpan.FromSeconds(2);
        var lastArrival = DateTime.UtcNow;
        while (results.Count < expected ? DateTime.UtcNow < deadline : DateTime.UtcNow - lastArrival < quietFor)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } result)
            {
                results.Add(result);
                lastArrival = DateTime.UtcNow;
            }
        }

        return results;
    }

    public void Dispose() => _owner?.Dispose();
}
