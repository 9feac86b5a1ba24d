using System.Collections.Concurrent;
using System.Text;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

public interface IRecordingGrain : IGrainWithStringKey;

/// <summary>Records what it receives; throws for values starting with "poison".</summary>
[ImplicitStreamSubscription(Namespace)]
public sealed class RecordingGrain : Grain, IRecordingGrain, IAsyncObserver<KafkaRecord>, IStreamSubscriptionObserver
{
    public const string Namespace = "recorded";

    public static readonly ConcurrentQueue<(string StreamKey, KafkaRecord Record)> Received = new();

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<KafkaRecord>().ResumeAsync(this);

    public Task OnNextAsync(KafkaRecord item, StreamSequenceToken? token = null)
    {
        if (Encoding.UTF8.GetString(item.Value).StartsWith("poison", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"cannot take {item}");
        }

        Received.Enqueue((this.GetPrimaryKeyString(), item));
        return Task.CompletedTask;
    }

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
}
