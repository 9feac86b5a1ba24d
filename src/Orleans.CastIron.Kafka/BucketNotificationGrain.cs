using Orleans.CastIron.Events;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.Streams;

namespace Orleans.CastIron.Kafka;

/// <summary>A consumer of MinIO bucket notifications for one object (grain key = stream key = <c>bucket/key</c>).</summary>
public interface IBucketNotificationGrain : IGrainWithStringKey;

/// <summary>
/// Reads MinIO's notifications from <c>castiron_etl_source_file</c> (record key <c>bucket/key</c>, so one activation and
/// one ordered stream per object) and hands each event to the same routing as the folder watcher: <c>.toml</c> keys to
/// the registry, data keys to their FileJob. A notification that cannot be read is dead-lettered.
/// </summary>
[ImplicitStreamSubscription(Namespace)]
public sealed class BucketNotificationGrain(IntakeService intake, IServiceProvider services)
    : KafkaConsumerGrain(services), IBucketNotificationGrain
{
    /// <summary>Stream namespace of bucket notifications.</summary>
    public const string Namespace = "castiron-bucket-events";

    public override async Task OnNextAsync(KafkaRecord item, StreamSequenceToken? token = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!BucketEventParser.TryParse(item.Value, out var bucketEvent, out var error))
        {
            await DeadLetterAsync(item, $"unreadable bucket notification ({error!.Code}): {error.Message}");
            return;
        }

        // Failures propagate: the provider retries delivery, then dead-letters the record.
        await intake.RouteAsync(bucketEvent!, CancellationToken.None);
    }
}
