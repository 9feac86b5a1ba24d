using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// Reads one topic-partition. The partition is <c>Assign</c>ed (Orleans' queue balancer decides which silo reads it,
/// no consumer-group rebalancing competes), reading never blocks the pulling agent (records are prefetched by
/// librdkafka), and the offset after the delivered prefix is stored when Orleans reports delivery and committed in
/// the background and at shutdown: at-least-once, nothing lost.
/// </summary>
internal sealed partial class KafkaQueueAdapterReceiver(
    string providerName,
    KafkaStreamOptions options,
    KafkaTopicOptions topic,
    int partition,
    KafkaPartitionControl control,
    IKafkaDataAdapter dataAdapter,
    ILogger logger) : IQueueAdapterReceiver
{
    private readonly ConcurrentDictionary<long, KafkaRecord> _inFlight = new();
    private IConsumer<byte[]?, byte[]>? _consumer;
    private long _lastStored = -1;

    public TopicPartition TopicPartition { get; } = new(topic.Name, partition);

    /// <summary>The record with this offset, if it is still being delivered (for dead-lettering).</summary>
    public KafkaRecord? InFlight(long offset) => _inFlight.GetValueOrDefault(offset);

    public Task Initialize(TimeSpan timeout)
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(options.ClientSettings))
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = topic.GroupId,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 1000,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            MaxPartitionFetchBytes = options.MaxMessageBytes,
            FetchMaxBytes = Math.Max(options.MaxMessageBytes, 52_428_800),
            ClientId = $"castiron-{providerName}-{topic.Name}-{partition}",
        };
        if (!options.ClientSettings.ContainsKey("fetch.wait.max.ms"))
        {
            // librdkafka's 500 ms default shows as latency on a quiet partition; 50 ms costs little on a real broker.
            config.FetchWaitMaxMs = 50;
        }

        _consumer = new ConsumerBuilder<byte[]?, byte[]>(config)
            .SetErrorHandler((_, error) => LogKafkaError(TopicPartition.ToString(), error.Reason))
            .Build();
        _consumer.Assign(new TopicPartitionOffset(TopicPartition, Offset.Stored));
        control.Attach(this);
        LogAssigned(providerName, TopicPartition.ToString());
        return Task.CompletedTask;
    }

    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount)
    {
        IList<IBatchContainer> batch = [];
        var consumer = _consumer;
        if (consumer is null || control.Paused)
        {
            return Task.FromResult(batch);
        }

        var limit = Math.Min(maxCount <= 0 ? 1000 : maxCount, 1000);
        while (batch.Count < limit)
        {
            // Zero timeout: only what librdkafka has prefetched; the agent's timer polls again shortly.
            var result = consumer.Consume(TimeSpan.Zero);
            if (result is null || result.IsPartitionEOF || result.Message is null)
            {
                break;
            }

            var record = new KafkaRecord
            {
                Topic = result.Topic,
                Partition = result.Partition.Value,
                Offset = result.Offset.Value,
                Key = result.Message.Key is { Length: > 0 } key ? Encoding.UTF8.GetString(key) : null,
                Value = result.Message.Value ?? [],
                Timestamp = result.Message.Timestamp.UtcDateTime,
            };
            _inFlight[record.Offset] = record;
            control.Observe(result.Offset.Value);
            batch.Add(new KafkaBatchContainer(dataAdapter.GetStreamId(topic, record), record));
        }

        return Task.FromResult(batch);
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages)
    {
        if (_consumer is null || messages.Count == 0)
        {
            return Task.CompletedTask;
        }

        var max = -1L;
        foreach (var message in messages)
        {
            if (message is KafkaBatchContainer container)
            {
                _inFlight.TryRemove(container.Record.Offset, out _);
                max = Math.Max(max, container.Record.Offset);
            }
        }

        if (max > _lastStored)
        {
            // The cache purges a delivered prefix, so everything up to max is done: the next read starts at max+1.
            _consumer.StoreOffset(new TopicPartitionOffset(TopicPartition, new Offset(max + 1)));
            _lastStored = max;
            control.MarkDelivered(max + 1);
        }

        return Task.CompletedTask;
    }

    public Task Shutdown(TimeSpan timeout)
    {
        var consumer = _consumer;
        _consumer = null;
        control.Detach(this);
        if (consumer is null)
        {
            return Task.CompletedTask;
        }

        try
        {
            consumer.Commit();
        }
        catch (KafkaException ex) when (ex.Error.Code == Confluent.Kafka.ErrorCode.Local_NoOffset)
        {
            // Nothing delivered since the last commit.
        }
        catch (KafkaException ex)
        {
            LogCommitFailed(ex, TopicPartition.ToString());
        }

        consumer.Close();
        consumer.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The partition's end offset as this consumer last learned it, or <see langword="null"/> after shutdown.</summary>
    public long? HighWatermark() => _consumer?.GetWatermarkOffsets(TopicPartition).High.Value;

    [LoggerMessage(1, LogLevel.Information, "Kafka stream provider '{Provider}' reads {TopicPartition}")]
    private partial void LogAssigned(string provider, string topicPartition);

    [LoggerMessage(2, LogLevel.Warning, "Kafka client error on {TopicPartition}: {Reason}")]
    private partial void LogKafkaError(string topicPartition, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Committing the delivered offset of {TopicPartition} at shutdown failed; records after the last commit will be delivered again")]
    private partial void LogCommitFailed(Exception exception, string topicPartition);
}
