using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// Builds the Kafka adapter: one Orleans queue per topic-partition (partition count read from the cluster at start;
/// keep it stable), a simple cache (it honours backpressure by reading no more while a consumer lags), and a
/// failure handler that dead-letters records whose delivery finally failed.
/// </summary>
public sealed partial class KafkaAdapterFactory(
    string name,
    KafkaStreamOptions options,
    KafkaStreamControl control,
    KafkaDeadLetters deadLetters,
    IKafkaDataAdapter dataAdapter,
    ILoggerFactory loggerFactory) : IQueueAdapterFactory, IQueueAdapter
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<KafkaAdapterFactory>();
    private readonly Dictionary<string, (KafkaTopicOptions Topic, int Partition, KafkaPartitionControl Control)> _partitions = new(StringComparer.Ordinal);
    private HashRingBasedPartitionedStreamQueueMapper? _mapper;
    private SimpleQueueAdapterCache? _cache;

    public static KafkaAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetOptionsByName<KafkaStreamOptions>(name);
        return ActivatorUtilities.CreateInstance<KafkaAdapterFactory>(
            services,
            name,
            options,
            services.GetRequiredKeyedService<KafkaStreamControl>(name),
            services.GetRequiredKeyedService<KafkaDeadLetters>(name),
            services.GetKeyedService<IKafkaDataAdapter>(name) ?? DefaultKafkaDataAdapter.Instance);
    }

    public string Name => name;

    public bool IsRewindable => false;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadOnly;

    public Task<IQueueAdapter> CreateAdapter()
    {
        EnsurePartitions();
        return Task.FromResult<IQueueAdapter>(this);
    }

    public IQueueAdapterCache GetQueueAdapterCache() =>
        _cache ??= new SimpleQueueAdapterCache(new SimpleQueueCacheOptions(), name, loggerFactory);

    public IStreamQueueMapper GetStreamQueueMapper()
    {
        EnsurePartitions();
        return _mapper!;
    }

    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId)
    {
        EnsurePartitions();
        var (_, _, partitionControl) = _partitions[_mapper!.QueueToPartition(queueId)];
        return Task.FromResult<IStreamFailureHandler>(new DeadLetterFailureHandler(partitionControl, deadLetters, _logger));
    }

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        EnsurePartitions();
        var (topic, partition, partitionControl) = _partitions[_mapper!.QueueToPartition(queueId)];
        return new KafkaQueueAdapterReceiver(name, options, topic, partition, partitionControl, dataAdapter, loggerFactory.CreateLogger<KafkaQueueAdapterReceiver>());
    }

    public Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext) =>
        throw new NotSupportedException($"Kafka stream provider '{name}' only reads: produce to Kafka with a Kafka client");

    private void EnsurePartitions()
    {
        if (_mapper is not null)
        {
            return;
        }

        lock (_partitions)
        {
            if (_mapper is not null)
            {
                return;
            }

            using var admin = new AdminClientBuilder(new AdminClientConfig(new Dictionary<string, string>(options.ClientSettings)) { BootstrapServers = options.BootstrapServers }).Build();
            foreach (var topic in options.Topics)
            {
                int count;
                try
                {
                    var metadata = admin.GetMetadata(topic.Name, options.MetadataTimeout);
                    var topicMetadata = metadata.Topics.FirstOrDefault(t => t.Topic == topic.Name);
                    count = topicMetadata is { Error.IsError: false, Partitions.Count: > 0 } ? topicMetadata.Partitions.Count : options.DefaultPartitionCount;
                }
                catch (KafkaException ex)
                {
                    LogMetadataFailed(ex, topic.Name, options.DefaultPartitionCount);
                    count = options.DefaultPartitionCount;
                }

                for (var p = 0; p < count; p++)
                {
                    _partitions[$"{topic.Name}:{p}"] = (topic, p, control.Add(topic.Name, p));
                }
            }

            _mapper = new HashRingBasedPartitionedStreamQueueMapper([.. _partitions.Keys], name);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "No metadata for topic '{Topic}'; assuming {Partitions} partitions (the topic is created on first use)")]
    private partial void LogMetadataFailed(Exception exception, string topic, int partitions);

    /// <summary>Dead-letters a record whose delivery failed for good; implicit subscriptions are never faulted.</summary>
    private sealed class DeadLetterFailureHandler(KafkaPartitionControl partition, KafkaDeadLetters deadLetters, ILogger logger) : IStreamFailureHandler
    {
        public bool ShouldFaultSubsriptionOnError => false;

        public async Task OnDeliveryFailure(GuidId subscriptionId, string streamProviderName, StreamId streamId, StreamSequenceToken? sequenceToken)
        {
            if (sequenceToken is not null && partition.InFlight(sequenceToken.SequenceNumber) is { } record)
            {
                await deadLetters.SendAsync(record, $"delivery to the consumer of stream {streamId} failed").ConfigureAwait(false);
            }
            else
            {
                LogUnknownRecord(logger, streamId.ToString(), sequenceToken?.SequenceNumber ?? -1);
            }
        }

        public Task OnSubscriptionFailure(GuidId subscriptionId, string streamProviderName, StreamId streamId, StreamSequenceToken? sequenceToken) =>
            OnDeliveryFailure(subscriptionId, streamProviderName, streamId, sequenceToken);
    }

    [LoggerMessage(2, LogLevel.Error, "Delivery failed on stream {StreamId} at offset {Offset}, and the record is no longer held; it was not dead-lettered")]
    private static partial void LogUnknownRecord(ILogger logger, string streamId, long offset);
}
