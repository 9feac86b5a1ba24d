using System.Collections.Immutable;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// The partition counts of a provider's topics as this silo last read them, watched in the background (like the
/// shard monitor of Orleans' Kinesis provider): read with retries at start, a topic that does not exist yet is
/// waited for, and partitions added later are picked up by their queue. Counts never go down (Kafka cannot remove
/// partitions; a short answer is a glitch).
/// </summary>
public sealed partial class KafkaTopology : IDisposable
{
    private static readonly TimeSpan MissingTopicInterval = TimeSpan.FromSeconds(2);
    private readonly KafkaStreamOptions _options;
    private readonly ILogger<KafkaTopology> _logger;
    private readonly TimeProvider _time;
    private readonly Func<IAdminClient> _adminFactory;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<string> _reportedMissing = new(StringComparer.Ordinal);
    private ImmutableDictionary<string, int> _counts = ImmutableDictionary<string, int>.Empty;
    private Task? _loop;
    private int _failures;

    public KafkaTopology(KafkaStreamOptions options, ILogger<KafkaTopology> logger, TimeProvider? time = null, Func<IAdminClient>? adminFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _adminFactory = adminFactory ?? (() => new AdminClientBuilder(new AdminClientConfig(new Dictionary<string, string>(options.ClientSettings))
        {
            BootstrapServers = options.BootstrapServers,
        }).Build());
    }

    /// <summary>Partitions of <paramref name="topic"/> known so far (0 until the topic is seen).</summary>
    public int PartitionCount(string topic) => _counts.GetValueOrDefault(topic);

    /// <summary>Starts watching (once); the first read is waited for up to <see cref="KafkaStreamOptions.MetadataTimeout"/>.</summary>
    public async Task StartAsync()
    {
        Task first;
        lock (_stopping)
        {
            if (_loop is not null)
            {
                return;
            }

            var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            first = firstRead.Task;
            _loop = Task.Run(() => WatchAsync(firstRead));
        }

        await Task.WhenAny(first, Task.Delay(_options.MetadataTimeout, _time)).ConfigureAwait(false);
    }

    /// <summary>Reads the topics' partition counts once; false when the cluster did not answer.</summary>
    internal bool Refresh(IAdminClient admin)
    {
        Confluent.Kafka.Metadata metadata;
        try
        {
            // All topics: asking for one by name makes brokers that auto-create topics create it.
            metadata = admin.GetMetadata(_options.MetadataTimeout);
        }
        catch (KafkaException ex)
        {
            _failures++;
            LogMetadataFailed(ex, _failures, ex.Error.Reason);
            return false;
        }

        _failures = 0;
        foreach (var topic in _options.Topics)
        {
            var found = metadata.Topics.FirstOrDefault(t => t.Topic == topic.Name);
            var count = found is { Error.IsError: false } ? found.Partitions.Count : 0;
            var known = PartitionCount(topic.Name);
            if (count == 0)
            {
                if (known == 0 && _reportedMissing.Add(topic.Name))
                {
                    LogTopicMissing(topic.Name, found?.Error.Reason ?? "not in the cluster's metadata");
                }

                continue;
            }

            if (count > known)
            {
                _counts = _counts.SetItem(topic.Name, count);
                _reportedMissing.Remove(topic.Name);
                LogPartitions(topic.Name, count, known);
            }
        }

        return true;
    }

    /// <summary>
    /// Every known partition's committed offset (its topic's group) and end offset, read from Kafka itself: what the
    /// status shows for partitions no queue reads at the moment (stopped agents, a queue between owners).
    /// </summary>
    public Task<IReadOnlyList<KafkaPartitionStatus>> CommittedPositionsAsync() => Task.Run<IReadOnlyList<KafkaPartitionStatus>>(() =>
    {
        var positions = new List<KafkaPartitionStatus>();
        foreach (var topic in _options.Topics)
        {
            var partitions = Enumerable.Range(0, PartitionCount(topic.Name)).Select(p => new TopicPartition(topic.Name, p)).ToList();
            if (partitions.Count == 0)
            {
                continue;
            }

            using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig(new Dictionary<string, string>(_options.ClientSettings))
            {
                BootstrapServers = _options.BootstrapServers,
                GroupId = topic.GroupId,
                EnableAutoCommit = false,
            }).Build();
            foreach (var committed in consumer.Committed(partitions, _options.MetadataTimeout))
            {
                var high = consumer.QueryWatermarkOffsets(committed.TopicPartition, _options.MetadataTimeout).High;
                positions.Add(new KafkaPartitionStatus(
                    topic.Name, committed.Partition.Value, -1, Math.Max(committed.Offset.Value, -1), -1, high == Offset.Unset ? null : high.Value, null));
            }
        }

        return positions;
    });

    private async Task WatchAsync(TaskCompletionSource firstRead)
    {
        using var admin = _adminFactory();
        while (!_stopping.IsCancellationRequested)
        {
            var answered = Refresh(admin);
            if (answered)
            {
                firstRead.TrySetResult();
            }

            var allKnown = _options.Topics.All(t => PartitionCount(t.Name) > 0);
            var wait = !answered
                ? TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(_failures, 5))))
                : allKnown ? _options.TopologyRefreshInterval : Min(_options.TopologyRefreshInterval, MissingTopicInterval);
            try
            {
                await Task.Delay(wait, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public void Dispose()
    {
        _stopping.Cancel();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Stopping anyway.
        }

        _stopping.Dispose();
    }

    [LoggerMessage(1, LogLevel.Warning, "Reading Kafka metadata failed (attempt {Attempt}, retried with backoff): {Reason}")]
    private partial void LogMetadataFailed(Exception exception, int attempt, string reason);

    [LoggerMessage(2, LogLevel.Warning, "Kafka topic '{Topic}' does not exist yet ({Reason}); its queues wait for it and read it once it appears")]
    private partial void LogTopicMissing(string topic, string reason);

    [LoggerMessage(3, LogLevel.Information, "Kafka topic '{Topic}' has {Partitions} partitions (known before: {Before})")]
    private partial void LogPartitions(string topic, int partitions, int before);
}
