using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// The common part of Cast Iron's Kafka consumers: an implicit subscription to <see cref="KafkaRecord"/>s and
/// dead-lettering of records the consumer refuses, so a bad record never stalls its partition.
/// </summary>
public abstract class KafkaConsumerGrain(IServiceProvider services) : Grain, IAsyncObserver<KafkaRecord>, IStreamSubscriptionObserver
{
    /// <summary>The silo's services.</summary>
    protected IServiceProvider Services { get; } = services;

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        ArgumentNullException.ThrowIfNull(handleFactory);
        await handleFactory.Create<KafkaRecord>().ResumeAsync(this);
    }

    public abstract Task OnNextAsync(KafkaRecord item, StreamSequenceToken? token = null);

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;

    /// <summary>Sends <paramref name="record"/> to its topic's dead-letter topic with <paramref name="reason"/>.</summary>
    protected Task DeadLetterAsync(KafkaRecord record, string reason) =>
        Services.GetRequiredKeyedService<KafkaDeadLetters>(CastIronKafkaOptions.StreamProvider).SendAsync(record, reason);
}
