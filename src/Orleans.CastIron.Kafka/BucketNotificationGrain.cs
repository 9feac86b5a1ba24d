using Orleans.CastIron.Events;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.Placement;

namespace Orleans.CastIron.Kafka;

/// <summary>A consumer of MinIO bucket notifications for one object (grain key = stream key = <c>bucket/key</c>).</summary>
public interface IBucketNotificationGrain : IGrainWithStringKey;

/// <summary>
/// Reads MinIO's notifications from <c>castiron_etl_source_file</c> (record key <c>bucket/key</c>, so one activation and
/// one ordered stream per object) and hands each event to the same routing as the folder watcher: <c>.toml</c> keys to
/// the registry, data keys to their FileJob. A notification that cannot be read, or whose intake is still running at
/// the deadline, is dead-lettered. Placed on the silo whose pulling agent read the record.
/// </summary>
[ImplicitStreamSubscription(Namespace)]
[PreferLocalPlacement]
public sealed class BucketNotificationGrain(IntakeService intake, IServiceProvider services)
    : KafkaConsumerGrain(services), IBucketNotificationGrain
{
    /// <summary>Stream namespace of bucket notifications.</summary>
    public const string Namespace = "castiron-bucket-events";

    protected override async Task<KafkaRecordOutcome> HandleAsync(KafkaRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!BucketEventParser.TryParse(record.Value, out var bucketEvent, out var error))
        {
            return KafkaRecordOutcome.DeadLetter($"unreadable bucket notification ({error!.Code}): {error.Message}");
        }

        // Other failures propagate: the provider delivers the record again (the retry), then dead-letters it.
        CurrentWork = $"intake of '{bucketEvent!.ObjectId}'";
        await intake.RouteAsync(bucketEvent, cancellationToken);
        return KafkaRecordOutcome.Handled;
    }
}
