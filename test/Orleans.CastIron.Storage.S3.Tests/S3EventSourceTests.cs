using Orleans.CastIron.Events;
using Orleans.CastIron.Storage.LocalFolder.Tests;
using Orleans.CastIron.Storage.S3.Providers;

namespace Orleans.CastIron.Storage.S3.Tests;

/// <summary>The webhook's queue between the HTTP answer and intake (our logic; no server needed).</summary>
public sealed class S3EventSourceTests
{
    private static BucketEvent Created(string key) => new() { EventName = "s3:ObjectCreated:Put", Kind = BucketEventKind.Created, Bucket = "etl", Key = key };

    [Fact]
    public async Task A_failing_hand_over_is_retried_until_it_succeeds_and_delivered_once()
    {
        var source = new S3EventSource(new S3StorageOptions { EventDeliveryParallelism = 1 }, new ListLogger<S3EventSource>());
        var calls = 0;
        var delivered = new TaskCompletionSource<string>();
        Assert.True(source.TryPost(Created("01_inbox/a.csv")));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = source.RunAsync((e, _) =>
        {
            if (++calls < 3)
            {
                throw new TimeoutException("grain busy");
            }

            delivered.TrySetResult(e.Key);
            return Task.CompletedTask;
        }, stop.Token);

        Assert.Equal("01_inbox/a.csv", await delivered.Task.WaitAsync(stop.Token));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(3, calls);
        Assert.Equal(0, source.Pending);
    }

    [Fact]
    public async Task An_event_the_store_refuses_is_dropped_with_an_error_and_the_next_one_goes_through()
    {
        var logger = new ListLogger<S3EventSource>();
        var source = new S3EventSource(new S3StorageOptions { EventDeliveryParallelism = 1 }, logger);
        source.TryPost(Created("01_inbox/too-long.csv"));
        source.TryPost(Created("01_inbox/fine.csv"));
        var delivered = new TaskCompletionSource<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = source.RunAsync((e, _) => e.Key.Contains("too-long", StringComparison.Ordinal)
            ? throw new ArgumentException("object key is 600 characters")
            : Task.FromResult(delivered.TrySetResult(e.Key)), stop.Token);

        Assert.Equal("01_inbox/fine.csv", await delivered.Task.WaitAsync(stop.Token));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Contains(logger.Warnings, w => w.Contains("Dropped the notification for '01_inbox/too-long.csv' after 1 attempt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pause_during_a_hand_over_keeps_the_event_for_the_next_run()
    {
        var source = new S3EventSource(new S3StorageOptions { EventDeliveryParallelism = 1 }, new ListLogger<S3EventSource>());
        source.TryPost(Created("01_inbox/a.csv"));
        using (var pause = new CancellationTokenSource())
        {
            var entered = new TaskCompletionSource();
            var run = source.RunAsync(async (_, token) =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            }, pause.Token);
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await pause.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }

        Assert.Equal(1, source.Pending);
        var delivered = new TaskCompletionSource<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var again = source.RunAsync((e, _) => Task.FromResult(delivered.TrySetResult(e.Key)), stop.Token);
        Assert.Equal("01_inbox/a.csv", await delivered.Task.WaitAsync(stop.Token));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => again);
    }

    [Fact]
    public void A_full_queue_refuses_so_the_webhook_can_ask_the_sender_to_retry()
    {
        var source = new S3EventSource(new S3StorageOptions { EventQueueCapacity = 2 }, new ListLogger<S3EventSource>());
        Assert.True(source.TryPost(Created("01_inbox/a.csv")));
        Assert.True(source.TryPost(Created("01_inbox/b.csv")));
        Assert.False(source.TryPost(Created("01_inbox/c.csv")));
        Assert.Equal(2, source.Pending);
    }
}
