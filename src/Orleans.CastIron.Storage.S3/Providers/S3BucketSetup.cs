using Minio.DataModel.Args;
using Minio.DataModel.Notification;
using Orleans.Runtime;

namespace Orleans.CastIron.Storage.S3.Providers;

/// <summary>
/// At silo start, before intake: waits for the S3 server (one log line per failed attempt, never a crash loop),
/// creates the bucket when missing and adds this service's notification configuration without touching the bucket's
/// others (B-21). A server that refuses the configuration is a warning with its reason; intake then relies on
/// reconciliation listings.
/// </summary>
public sealed partial class S3BucketSetup(S3ObjectStore store, string bucket, S3StorageOptions options, ILogger<S3BucketSetup> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly EventType[] Events = [EventType.ObjectCreatedAll, EventType.ObjectRemovedAll];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(S3BucketSetup), ServiceLifecycleStage.ApplicationServices, RunAsync);

    /// <summary>Waits for the server, ensures the bucket and registers the notification (when an ARN is set).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await store.EnsureBucketAsync(bucket, cancellationToken).ConfigureAwait(false);
                LogReady(options.Endpoint, bucket);
                break;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogUnreachable(options.Endpoint, bucket, attempt, options.StartupRetryInterval.TotalSeconds, ex.Message);
                await Task.Delay(options.StartupRetryInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        if (options.EffectiveNotificationArn is not { } arn)
        {
            LogNoRegistration(bucket);
            return;
        }

        try
        {
            var changed = await RegisterAsync(arn, cancellationToken).ConfigureAwait(false);
            LogRegistered(bucket, arn, changed ? "added" : "already in place");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogRegistrationRefused(bucket, arn, S3Retry.Describe(ex));
        }
    }

    /// <summary>Adds (or updates) the configuration with our id, keeping every other one; false when it was already there.</summary>
    internal async Task<bool> RegisterAsync(string arn, CancellationToken cancellationToken)
    {
        var client = store.Client;
        var current = await store.Retry.RunAsync("notification read", bucket, "", token => client.GetBucketNotificationsAsync(new GetBucketNotificationsArgs().WithBucket(bucket), token), cancellationToken).ConfigureAwait(false);
        current.QueueConfigs ??= [];
        current.TopicConfigs ??= [];
        var isTopic = arn.Contains(":sns:", StringComparison.Ordinal);
        var existing = isTopic
            ? current.TopicConfigs.Where(c => c.Id == S3StorageOptions.NotificationId).Cast<NotificationConfiguration>().ToList()
            : current.QueueConfigs.Where(c => c.Id == S3StorageOptions.NotificationId).Cast<NotificationConfiguration>().ToList();
        if (existing is [var only] && (isTopic ? ((TopicConfig)only).Topic : ((QueueConfig)only).Queue) == arn && only.Filter is null
            && Events.All(e => only.Events.Any(have => have.Value == e.Value)) && only.Events.Count == Events.Length)
        {
            return false;
        }

        // Ours are replaced (a changed ARN, an edited copy); everyone else's stay.
        current.QueueConfigs.RemoveAll(c => c.Id == S3StorageOptions.NotificationId);
        current.TopicConfigs.RemoveAll(c => c.Id == S3StorageOptions.NotificationId);
        NotificationConfiguration mine = isTopic ? new TopicConfig(arn) : new QueueConfig(arn);
        mine.Id = S3StorageOptions.NotificationId;
        mine.AddEvents(Events);
        // Added directly: the SDK's AddTopic/AddQueue silently skip an ARN that another configuration already uses.
        if (mine is TopicConfig topic)
        {
            current.TopicConfigs.Add(topic);
        }
        else
        {
            current.QueueConfigs.Add((QueueConfig)mine);
        }

        await store.Retry.RunAsync("notification registration", bucket, "", token => client.SetBucketNotificationsAsync(new SetBucketNotificationsArgs().WithBucket(bucket).WithBucketNotificationConfiguration(current), token), cancellationToken).ConfigureAwait(false);
        return true;
    }

    [LoggerMessage(1, LogLevel.Warning, "S3 server at {Endpoint} not usable yet for bucket '{Bucket}' (attempt {Attempt}); trying again in {RetrySeconds:F0} s: {Reason}")]
    private partial void LogUnreachable(string endpoint, string bucket, int attempt, double retrySeconds, string reason);

    [LoggerMessage(2, LogLevel.Information, "S3 store at {Endpoint}, bucket '{Bucket}'")]
    private partial void LogReady(string endpoint, string bucket);

    [LoggerMessage(3, LogLevel.Information, "Bucket notification on '{Bucket}' to {Arn}: {Outcome}")]
    private partial void LogRegistered(string bucket, string arn, string outcome);

    [LoggerMessage(4, LogLevel.Warning, "The server refused the bucket notification on '{Bucket}' to {Arn} ({Reason}); files are found by reconciliation listings instead, or configure notifications on the server")]
    private partial void LogRegistrationRefused(string bucket, string arn, string reason);

    [LoggerMessage(5, LogLevel.Information, "No bucket notification registered on '{Bucket}' (MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE is empty)")]
    private partial void LogNoRegistration(string bucket);
}
