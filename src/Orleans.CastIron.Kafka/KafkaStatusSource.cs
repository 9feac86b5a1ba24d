using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Runtime;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// Every Kafka partition of the cluster's topics: committed and end offsets from Kafka, and, where a queue reads it,
/// the silo, the last offset read, the delivered position and a record holding it.
/// </summary>
internal sealed class KafkaStatusSource(IGrainFactory grains, IServiceProvider services) : IKafkaStatusSource
{
    public async Task<ClusterKafka> ReadAsync(CancellationToken cancellationToken)
    {
        const string provider = CastIronKafkaOptions.StreamProvider;
        var management = grains.GetGrain<IManagementGrain>(0);
        var queues = await management.QueuesAsync(provider);
        var reading = queues.SelectMany(q => q.Partitions.Select(p => (Queue: q, Partition: p))).ToDictionary(r => (r.Partition.Topic, r.Partition.Partition));
        var committed = await services.GetRequiredKeyedService<KafkaTopology>(provider).CommittedPositionsAsync();
        return new ClusterKafka
        {
            Paused = await management.AgentsStoppedAsync(provider),
            Queues = [.. queues.Select(q => new ClusterKafkaQueue(q.Queue, q.Silo, q.State, q.BufferedBytes))],
            Partitions = [.. committed.Select(position =>
            {
                var read = reading.GetValueOrDefault((position.Topic, position.Partition));
                var p = read.Partition is { } live ? live with { Committed = Math.Max(live.Committed, position.Committed), HighWatermark = live.HighWatermark ?? position.HighWatermark } : position;
                return new ClusterKafkaPartition
                {
                    Topic = p.Topic,
                    Partition = p.Partition,
                    Queue = read.Queue?.Queue,
                    Silo = read.Queue?.Silo,
                    LastRead = read.Partition is null ? null : p.LastRead,
                    Committed = p.Committed,
                    DeliveredUpTo = read.Partition is null ? null : p.DeliveredUpTo,
                    HighWatermark = p.HighWatermark,
                    Lag = p.Lag,
                    Held = p.Held is { } held ? new ClusterHeldRecord(held.Offset, held.Reason, held.Attempts, held.LastError, held.NextAttempt) : null,
                };
            }).OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition)],
        };
    }
}
