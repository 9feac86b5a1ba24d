namespace Orleans.CastIron.Storage;

/// <summary>An object as listed or stat-ed.</summary>
/// <param name="Key">The object key inside the bucket.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="ETag">An opaque version tag: changes whenever the content is replaced.</param>
/// <param name="LastModified">When the object was last written.</param>
/// <param name="ContentType">The content type, when known.</param>
/// <param name="Metadata">User metadata: keys lower-case, without the <c>x-amz-meta-</c> prefix.</param>
public sealed record ObjectInfo(
    string Key,
    long Size,
    string ETag,
    DateTimeOffset LastModified,
    string? ContentType,
    ImmutableDictionary<string, string> Metadata);

/// <summary>The object a call named does not exist.</summary>
public sealed class ObjectNotFoundException(string bucket, string key)
    : Exception($"object '{key}' does not exist in bucket '{bucket}'")
{
    public string Bucket { get; } = bucket;

    public string Key { get; } = key;
}

/// <summary>
/// What the workflow needs from an object store (S3 / MinIO in production, a local folder by default). Keys are
/// validated by implementations (<see cref="Paths.ObjectKeys.Validate"/>); metadata keys are lower-case without the
/// <c>x-amz-meta-</c> prefix.
/// </summary>
public interface IObjectStore
{
    /// <summary>Lists objects whose key starts with <paramref name="prefix"/> (a folder, or <c>""</c> for all).</summary>
    /// <remarks>
    /// A listing may leave <see cref="ObjectInfo.Metadata"/> empty and <see cref="ObjectInfo.ContentType"/> null (S3
    /// listings carry neither); <see cref="StatAsync"/> gives them.
    /// </remarks>
    /// <param name="recursive">False lists only direct children of the folder.</param>
    IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, bool recursive, CancellationToken cancellationToken = default);

    /// <summary>Describes an object, or returns <see langword="null"/> when it does not exist.</summary>
    Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>Opens an object for reading.</summary>
    /// <exception cref="ObjectNotFoundException">The object does not exist.</exception>
    Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>Writes (or replaces) an object atomically: readers see the old or the new object, never a part.</summary>
    Task<ObjectInfo> WriteAsync(string bucket, string key, Stream content, IReadOnlyDictionary<string, string> metadata, string? contentType = null, CancellationToken cancellationToken = default);

    /// <summary>Server-side copy. <paramref name="metadata"/> replaces the source's user metadata; null keeps it.</summary>
    /// <exception cref="ObjectNotFoundException">The source does not exist.</exception>
    Task<ObjectInfo> CopyAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves an object, replacing its user metadata with <paramref name="metadata"/> (null keeps it; a move onto the same
    /// key only replaces the metadata). Idempotent, so a
    /// move interrupted by a crash can simply be repeated: when the source is gone and the destination exists, the
    /// earlier move completed and nothing is done. The default is copy-then-delete (what S3 offers); stores with a
    /// native rename override it.
    /// </summary>
    /// <exception cref="ObjectNotFoundException">Neither source nor destination exists.</exception>
    async Task MoveAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        if (string.Equals(sourceKey, destinationKey, StringComparison.Ordinal))
        {
            // In place: only the metadata changes (S3 allows a copy onto itself that replaces metadata).
            if (metadata is not null && await StatAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false) is not null)
            {
                await CopyAsync(bucket, sourceKey, destinationKey, metadata, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (await StatAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false) is null)
        {
            if (await StatAsync(bucket, destinationKey, cancellationToken).ConfigureAwait(false) is not null)
            {
                return;
            }

            throw new ObjectNotFoundException(bucket, sourceKey);
        }

        await CopyAsync(bucket, sourceKey, destinationKey, metadata, cancellationToken).ConfigureAwait(false);
        await DeleteAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Operations built from <see cref="IObjectStore"/> primitives, the same for every store.</summary>
public static class ObjectStoreExtensions
{
    /// <summary>The <c>s3:ObjectCreated:Put</c> event a listing or a stat of <paramref name="info"/> stands for.</summary>
    public static BucketEvent ToCreatedEvent(this ObjectInfo info, string bucket)
    {
        ArgumentNullException.ThrowIfNull(info);
        return new BucketEvent
        {
            EventName = "s3:ObjectCreated:Put",
            Kind = BucketEventKind.Created,
            Bucket = bucket,
            Key = info.Key,
            Size = info.Size,
            ETag = info.ETag,
            ContentType = info.ContentType,
            UserMetadata = info.Metadata,
            Sequencer = info.ETag,
        };
    }

    /// <summary>Reads a whole (small) object as UTF-8 text.</summary>
    public static async Task<string> ReadTextAsync(this IObjectStore store, string bucket, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        await using var stream = await store.OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        return await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes UTF-8 text as an object.</summary>
    public static async Task<ObjectInfo> WriteTextAsync(this IObjectStore store, string bucket, string key, string text, IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        return await store.WriteAsync(bucket, key, content, metadata ?? ImmutableDictionary<string, string>.Empty, "text/plain; charset=utf-8", cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// A source of bucket events (the folder watcher by default; Kafka notifications later). The source calls the
/// handler for each event and regards an event as delivered only when the handler returned; a handler that throws
/// gets the event again later, so nothing is lost.
/// </summary>
public interface IObjectEventSource
{
    /// <summary>Delivers events until <paramref name="cancellationToken"/> is canceled.</summary>
    Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken);

    /// <summary>
    /// How often, unless configured otherwise, the registered inboxes should be listed for files no event announced;
    /// null when the source needs no such listing (it scans the whole store itself, as the folder source does).
    /// </summary>
    TimeSpan? DefaultReconcileInterval => null;
}
