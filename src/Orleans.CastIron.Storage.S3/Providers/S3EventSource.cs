using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Orleans.CastIron.Storage.S3.Providers;

/// <summary>
/// The S3 store's event source: notifications pushed to the webhook are queued here and delivered to intake in the
/// background. The webhook answers once an event is queued, never after its job acted: a server that pushes
/// synchronously (Ceph) would otherwise wait on a job that is itself waiting on that server. A full queue makes the
/// webhook ask the sender to retry. Registered inboxes are also listed every
/// <see cref="S3StorageOptions.ReconcileInterval"/>, so an event lost anywhere (sender, queue, crash) delays a file,
/// never loses it. (MinIO's Kafka notifications reach intake through the Kafka provider instead.)
/// </summary>
public sealed partial class S3EventSource(S3StorageOptions options, ILogger<S3EventSource> logger) : IObjectEventSource
{
    private readonly Channel<BucketEvent> _queue = Channel.CreateBounded<BucketEvent>(new BoundedChannelOptions(options.EventQueueCapacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>Events taken from the queue whose delivery a pause or stop interrupted: delivered first next time.</summary>
    private readonly ConcurrentQueue<BucketEvent> _interrupted = new();

    /// <summary>Attempts to hand one event over before it is dropped (about half a minute of backoff).</summary>
    private const int MaxAttempts = 10;

    public TimeSpan? DefaultReconcileInterval => options.ReconcileInterval;

    /// <summary>Queues a pushed event; false when the queue is full (the sender should retry).</summary>
    public bool TryPost(BucketEvent bucketEvent) => _queue.Writer.TryWrite(bucketEvent);

    /// <summary>Events waiting to be delivered.</summary>
    public int Pending => _queue.Reader.Count + _interrupted.Count;

    public async Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var workers = Enumerable.Range(0, options.EventDeliveryParallelism).Select(_ => Task.Run(() => DeliverAsync(handler, cancellationToken), CancellationToken.None));
        await Task.WhenAll(workers).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task DeliverAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            BucketEvent next;
            if (!_interrupted.TryDequeue(out next!))
            {
                try
                {
                    next = await _queue.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await handler(next, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex is ArgumentException || attempt >= MaxAttempts))
                {
                    // An event that cannot be handled (a key the store refuses) or keeps failing would hold a worker
                    // forever: it is dropped, and reconciliation offers its file again.
                    LogDropped(ex, next.Key, attempt);
                    break;
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    _interrupted.Enqueue(next);
                    return;
                }
                catch (Exception ex)
                {
                    // Kept and offered again: a grain call that failed now may well succeed in a moment.
                    var delay = TimeSpan.FromMilliseconds(Math.Min(5_000, 100 * Math.Pow(2, Math.Min(attempt, 10))));
                    LogDeliveryFailed(ex, next.Key, attempt, delay.TotalMilliseconds);
                    try
                    {
                        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        _interrupted.Enqueue(next);
                        return;
                    }
                }
            }
        }
    }

    [LoggerMessage(2, LogLevel.Error, "Dropped the notification for '{ObjectKey}' after {Attempts} attempt(s); reconciliation offers its file again")]
    private partial void LogDropped(Exception exception, string objectKey, int attempts);

    [LoggerMessage(1, LogLevel.Warning, "Handing the notification for '{ObjectKey}' to intake failed (attempt {Attempt}); trying again in {DelayMs:F0} ms")]
    private partial void LogDeliveryFailed(Exception exception, string objectKey, int attempt, double delayMs);
}
