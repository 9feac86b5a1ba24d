namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>Pause switch and position of one topic-partition, shared by its receiver and the manager API.</summary>
public sealed class KafkaPartitionControl(string topic, int partition, KafkaStreamControl owner)
{
    private long _lastRead = -1;
    private long _delivered = -1;
    private KafkaQueueAdapterReceiver? _receiver;

    public string Topic { get; } = topic;

    public int Partition { get; } = partition;

    internal bool Paused => owner.Paused;

    /// <summary>Offset of the last record read.</summary>
    public long LastRead => Interlocked.Read(ref _lastRead);

    /// <summary>The next offset to read after everything delivered (what is committed).</summary>
    public long DeliveredUpTo => Interlocked.Read(ref _delivered);

    /// <summary>True while a receiver on this silo reads the partition.</summary>
    public bool Active => Volatile.Read(ref _receiver) is not null;

    /// <summary>The partition's end offset, when read here.</summary>
    public long? HighWatermark => Volatile.Read(ref _receiver)?.HighWatermark();

    internal void Attach(KafkaQueueAdapterReceiver receiver) => Volatile.Write(ref _receiver, receiver);

    internal void Detach(KafkaQueueAdapterReceiver receiver) => Interlocked.CompareExchange(ref _receiver, null, receiver);

    internal void Observe(long offset) => Interlocked.Exchange(ref _lastRead, offset);

    internal void MarkDelivered(long next) => Interlocked.Exchange(ref _delivered, next);

    internal KafkaRecord? InFlight(long offset) => Volatile.Read(ref _receiver)?.InFlight(offset);
}

/// <summary>A provider's partitions on this silo: pause and resume intake, see positions and lag.</summary>
public sealed class KafkaStreamControl(string providerName)
{
    private readonly List<KafkaPartitionControl> _partitions = [];
    private volatile bool _paused;

    public string ProviderName { get; } = providerName;

    public bool Paused => _paused;

    public IReadOnlyList<KafkaPartitionControl> Partitions
    {
        get
        {
            lock (_partitions)
            {
                return [.. _partitions];
            }
        }
    }

    /// <summary>Stops reading (records stay in Kafka and are read on resume); false when already paused.</summary>
    public bool Pause()
    {
        var was = _paused;
        _paused = true;
        return !was;
    }

    /// <summary>Reads again; false when not paused.</summary>
    public bool Resume()
    {
        var was = _paused;
        _paused = false;
        return was;
    }

    internal KafkaPartitionControl Add(string topic, int partition)
    {
        lock (_partitions)
        {
            var control = new KafkaPartitionControl(topic, partition, this);
            _partitions.Add(control);
            return control;
        }
    }
}
