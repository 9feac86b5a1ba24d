namespace Orleans.CastIron.Storage.S3.Providers;

/// <summary>
/// The S3 store's event source. S3 pushes its events (MinIO's Kafka target, or a webhook) straight to intake, so
/// there is nothing to poll here; what it adds is the reconciliation interval: registered inboxes are listed every
/// <see cref="S3StorageOptions.ReconcileInterval"/> so a lost notification delays a file, never loses it.
/// </summary>
public sealed class S3EventSource(S3StorageOptions options) : IObjectEventSource
{
    public TimeSpan? DefaultReconcileInterval => options.ReconcileInterval;

    public Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken) =>
        Task.Delay(Timeout.Infinite, cancellationToken);
}
