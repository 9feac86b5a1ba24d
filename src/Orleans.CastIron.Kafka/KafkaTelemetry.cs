using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.CastIron.Telemetry;
using Orleans.Runtime;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// Feeds the Kafka provider's state to <see cref="CastIronTelemetry"/> while the silo runs: per-partition lag of the
/// queues read here (<c>castiron.kafka.lag</c>, from <see cref="KafkaStreamControl.Queues"/>) and every dead letter the
/// provider wrote (<c>castiron.kafka.dead_letters</c>), whether a consumer refused the record or its delivery failed.
/// </summary>
internal sealed class KafkaTelemetry(IServiceProvider services) : ILifecycleParticipant<ISiloLifecycle>
{
    private IDisposable? _lag;
    private KafkaDeadLetters? _deadLetters;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(KafkaTelemetry), ServiceLifecycleStage.Active, Start, Stop);

    /// <summary>The lag of every partition read here whose end offset is known.</summary>
    internal static IEnumerable<KafkaLag> Lags(KafkaStreamControl control) =>
        control.Queues().SelectMany(q => q.Partitions).Where(p => p.Lag is not null).Select(p => new KafkaLag(p.Topic, p.Partition, p.Lag!.Value));

    private Task Start(CancellationToken cancellationToken)
    {
        var provider = CastIronKafkaOptions.StreamProvider;
        var control = services.GetRequiredKeyedService<KafkaStreamControl>(provider);
        _lag = CastIronTelemetry.AddKafkaLagSource(() => Lags(control));
        _deadLetters = services.GetRequiredKeyedService<KafkaDeadLetters>(provider);
        _deadLetters.DeadLettered += OnDeadLettered;
        return Task.CompletedTask;
    }

    private Task Stop(CancellationToken cancellationToken)
    {
        _lag?.Dispose();
        if (_deadLetters is not null)
        {
            _deadLetters.DeadLettered -= OnDeadLettered;
        }

        return Task.CompletedTask;
    }

    private static void OnDeadLettered(KafkaRecord record, string deadLetterTopic, string reason) =>
        CastIronTelemetry.DeadLetters.Add(1, new KeyValuePair<string, object?>(CastIronTelemetry.TopicTag, record.Topic));
}
