using Microsoft.Extensions.Logging.Abstractions;
using Minio.DataModel.Args;
using Minio.DataModel.Notification;
using Orleans.CastIron.Storage.LocalFolder.Tests;
using Orleans.CastIron.Storage.S3.Providers;

namespace Orleans.CastIron.Storage.S3.Tests;

/// <summary>Start-up against the real S3 peer: the bucket, the notification registration (B-21), an unreachable server.</summary>
[Collection(S3Collection.Name)]
public sealed class S3BucketSetupTests(S3Peer peer)
{
    [Fact]
    public async Task Start_creates_the_bucket_and_with_an_empty_arn_registers_nothing()
    {
        var bucket = S3Peer.NewBucket("setup");
        var options = peer.Options();
        using var store = new S3ObjectStore(options);
        var logs = new ListLogger<S3BucketSetup>();
        await new S3BucketSetup(store, bucket, options, logs).RunAsync(CancellationToken.None);

        Assert.True(await store.Client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket)));
        var configs = await store.Client.GetBucketNotificationsAsync(new GetBucketNotificationsArgs().WithBucket(bucket));
        Assert.Empty(configs.TopicConfigs ?? []);
        Assert.Empty(configs.QueueConfigs ?? []);
        Assert.Contains(logs.Lines.Select(l => l.Message), l => l.Contains("No bucket notification registered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Registration_adds_ours_keeps_everyone_elses_and_is_not_repeated()
    {
        if (!peer.IsCeph)
        {
            return; // Topics with a push endpoint are Ceph's; against MinIO the queue ARN of a configured target is used.
        }

        var bucket = S3Peer.NewBucket("notify");
        var arn = peer.CreateTopic($"t-{bucket}", "http://127.0.0.1:9/never");
        var options = peer.Options(o => o.NotificationArn = arn);
        using var store = new S3ObjectStore(options);
        await store.EnsureBucketAsync(bucket);

        // Another service's configuration, filtered to .toml: the seed wiped it at every start (B-21).
        var theirs = new TopicConfig(arn) { Id = "someone-else" };
        theirs.AddEvents([EventType.ObjectRemovedAll]);
        theirs.AddFilterSuffix(".toml");
        var existing = new BucketNotification();
        existing.TopicConfigs.Add(theirs);
        await store.Client.SetBucketNotificationsAsync(new SetBucketNotificationsArgs().WithBucket(bucket).WithBucketNotificationConfiguration(existing));

        var setup = new S3BucketSetup(store, bucket, options, NullLogger<S3BucketSetup>.Instance);
        Assert.True(await setup.RegisterAsync(arn, CancellationToken.None));
        Assert.False(await setup.RegisterAsync(arn, CancellationToken.None));

        var after = await store.Client.GetBucketNotificationsAsync(new GetBucketNotificationsArgs().WithBucket(bucket));
        Assert.Equal(["etl_file_upload_notification", "someone-else"], after.TopicConfigs.Select(c => c.Id).Order(StringComparer.Ordinal));
        var mine = after.TopicConfigs.Single(c => c.Id == S3StorageOptions.NotificationId);
        Assert.Equal(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], mine.Events.Select(e => e.Value).Order(StringComparer.Ordinal));
        Assert.Null(mine.Filter);
        Assert.Equal(".toml", after.TopicConfigs.Single(c => c.Id == "someone-else").Filter.S3Key.FilterRules.Single().Value);
    }

    [Fact]
    public async Task A_refused_registration_is_a_warning_with_the_reason_and_start_goes_on()
    {
        // Ceph has no MinIO queue targets: the seed's default ARN is refused.
        if (!peer.IsCeph)
        {
            return; // MinIO accepts its own queue ARN when the target exists.
        }

        var bucket = S3Peer.NewBucket("refused");
        var options = peer.Options(o => o.NotificationArn = "arn:minio:sqs::source:kafka");
        using var store = new S3ObjectStore(options);
        var logs = new ListLogger<S3BucketSetup>();
        await new S3BucketSetup(store, bucket, options, logs).RunAsync(CancellationToken.None);

        Assert.True(await store.Client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket)));
        Assert.Contains(logs.Warnings, l => l.Contains("refused the bucket notification", StringComparison.Ordinal) && l.Contains("arn:minio:sqs::source:kafka", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_server_is_waited_for_with_a_line_per_attempt_not_a_crash()
    {
        var options = peer.Options(o =>
        {
            o.Host = "127.0.0.1";
            o.Port = S3Peer.FreePort();
            o.MaxAttempts = 1;
            o.StartupRetryInterval = TimeSpan.FromMilliseconds(100);
        });
        using var store = new S3ObjectStore(options);
        var logs = new ListLogger<S3BucketSetup>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new S3BucketSetup(store, "etl", options, logs).RunAsync(stop.Token));
        var attempts = logs.Warnings.Where(l => l.Contains("not usable yet", StringComparison.Ordinal)).ToList();
        Assert.True(attempts.Count >= 3, string.Join("\n", logs.Warnings));
        Assert.Contains("attempt 2", attempts[1]);
        Assert.Contains(options.Endpoint, attempts[0]);
    }
}
