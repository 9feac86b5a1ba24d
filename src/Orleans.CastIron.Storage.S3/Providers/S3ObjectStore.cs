using System.IO.Pipelines;
using Minio;
using Minio.DataModel;
using Minio.DataModel.Args;
using Orleans.CastIron.Paths;
using MinioNotFound = Minio.Exceptions.ObjectNotFoundException;

namespace Orleans.CastIron.Storage.S3.Providers;

/// <summary>
/// <see cref="IObjectStore"/> on an S3 server (MinIO in production) through the Minio SDK. Reads stream through a
/// bounded pipe and writes stream from a file (a non-seekable source is spooled to a temporary file first), so an
/// object of any size never sits in memory. A move is copy-then-delete, idempotent after a crash between the two.
/// Metadata keys are lower-case without <c>x-amz-meta-</c>, whatever casing the server returns.
/// </summary>
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    private const string MetaPrefix = "x-amz-meta-";

    /// <summary>Largest object S3 copies in one request; larger ones are copied in parts by the SDK.</summary>
    private const long SingleCopyLimit = 5L * 1024 * 1024 * 1024;

    /// <summary>Bytes buffered between the download and its reader before the download waits.</summary>
    private const int ReadBufferBytes = 1024 * 1024;

    private readonly IMinioClient _client;
    private readonly S3Retry _retry;
    private readonly S3StorageOptions _options;
    private readonly ILogger _logger;
    private readonly HttpClient _http;

    /// <summary>Headers the server returns among the stat's metadata that are not user metadata.</summary>
    private static readonly HashSet<string> StandardHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires",
    };

    public S3ObjectStore(S3StorageOptions options, ILogger<S3ObjectStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _retry = new S3Retry(options, _logger);
        // Timeouts are ours (per request, then retried); the handler works around the SDK's doubled Content-Type.
        _http = new HttpClient(new SingleContentTypeHandler { InnerHandler = new ObjectGetStatusHandler { InnerHandler = new BucketCheckCache { InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(10) } } } })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _client = new MinioClient()
            .WithHttpClient(_http, disposeHttpClient: false)
            .WithEndpoint(options.HostName, options.EffectivePort ?? (options.Secure ? 443 : 80))
            .WithCredentials(options.AccessKey, options.SecretKey)
            .WithRegion(options.Region)
            .WithSSL(options.Secure)
            .Build();
    }

    /// <summary>The SDK client (notification registration uses it too).</summary>
    internal IMinioClient Client => _client;

    internal S3Retry Retry => _retry;

    /// <summary>Creates <paramref name="bucket"/> when it does not exist.</summary>
    public async Task EnsureBucketAsync(string bucket, CancellationToken cancellationToken = default)
    {
        var exists = await _retry.RunAsync("bucket check", bucket, "", token => _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), token), cancellationToken).ConfigureAwait(false);
        if (!exists)
        {
            try
            {
                await _retry.RunAsync("bucket creation", bucket, "", token => _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(bucket).WithLocation(_options.Region), token), cancellationToken).ConfigureAwait(false);
                LogBucketCreated(bucket);
            }
            catch (ObjectStoreException ex) when (ex.Code is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
            {
                // Another silo created it meanwhile.
            }
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, bool recursive, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var folder = prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/";
        // The SDK pages through the listing itself (1,000 keys per request); a failed page is retried by starting
        // over after the last key seen, so a long listing survives a transient error.
        string? after = null;
        for (var attempt = 1; ; attempt++)
        {
            var args = new ListObjectsArgs().WithBucket(bucket).WithPrefix(folder).WithRecursive(recursive);
            var items = _client.ListObjectsEnumAsync(args, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var failed = false;
            try
            {
                while (true)
                {
                    Item item;
                    try
                    {
                        if (!await items.MoveNextAsync().ConfigureAwait(false))
                        {
                            yield break;
                        }

                        item = items.Current;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested && S3Retry.IsTransient(ex) && attempt < _options.MaxAttempts)
                    {
                        LogListRetry(ex, folder, attempt, S3Retry.Describe(ex));
                        failed = true;
                        break;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not ObjectStoreException)
                    {
                        throw new ObjectStoreException($"S3 listing of '{folder}' in bucket '{bucket}' at {_options.Endpoint} failed: {S3Retry.Describe(ex)}", ex);
                    }

                    // After a restart, skip what the broken-off listing already gave (S3 lists in UTF-8 byte order).
                    if (item.IsDir || (attempt > 1 && after is not null && CompareUtf8(item.Key, after) <= 0))
                    {
                        continue;
                    }

                    after = item.Key;
                    if (KeyProblem(item.Key) is { } problem)
                    {
                        // Not ours to touch (hostile or too long for the SDK): said once per listing, never acted on.
                        LogSkipped(item.Key, problem);
                        continue;
                    }

                    yield return new ObjectInfo(item.Key, (long)item.Size, Unquote(item.ETag), item.LastModifiedDateTime is { } modified ? new DateTimeOffset(modified).ToUniversalTime() : default, null, ImmutableDictionary<string, string>.Empty);
                }
            }
            finally
            {
                await items.DisposeAsync().ConfigureAwait(false);
            }

            if (failed)
            {
                await Task.Delay(_options.RetryBaseDelay * attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        try
        {
            var stat = await _retry.RunAsync("stat", bucket, key, token => _client.StatObjectAsync(new StatObjectArgs().WithBucket(bucket).WithObject(key), token), cancellationToken).ConfigureAwait(false);
            return ToInfo(key, stat);
        }
        catch (MinioNotFound)
        {
            return null;
        }
    }

    public async Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: ReadBufferBytes, resumeWriterThreshold: ReadBufferBytes / 2, useSynchronizationContext: false));
        var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            try
            {
                await _retry.RunAsync("read", bucket, key, transfer: true, async token =>
                {
                    // An error answer never reaches this callback (ObjectGetStatusHandler turns it into an exception
                    // first), so the reader only ever gets the object's bytes.
                    var args = new GetObjectArgs().WithBucket(bucket).WithObject(key).WithCallbackStream(async (body, _) =>
                    {
                        started.TrySetResult();
                        try
                        {
                            // Not bound by the request timeout (a slow reader of a large object is fine); the reader
                            // going away or the caller canceling ends it.
                            await body.CopyToAsync(pipe.Writer, abandon.Token).ConfigureAwait(false);
                        }
                        catch (Exception ex)
                        {
                            // Releases the connection now rather than at garbage collection.
                            await body.DisposeAsync().ConfigureAwait(false);
                            throw new BodyFailedException(ex);
                        }
                    });
                    try
                    {
                        await _client.GetObjectAsync(args, token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (started.Task.IsCompleted && ex is not BodyFailedException)
                    {
                        // Bytes already went to the reader: never retried from the start.
                        throw new BodyFailedException(ex);
                    }
                }, abandon.Token).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                var mapped = ex switch
                {
                    _ when cancellationToken.IsCancellationRequested => new OperationCanceledException(cancellationToken),
                    MinioNotFound or HttpRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } => new Storage.ObjectNotFoundException(bucket, key),
                    ObjectStoreException { InnerException: HttpRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } } => new Storage.ObjectNotFoundException(bucket, key),
                    BodyFailedException body => new ObjectStoreException($"S3 read of '{key}' in bucket '{bucket}' broke off: {S3Retry.Describe(body.InnerException!)}", body.InnerException),
                    ObjectStoreException { InnerException: BodyFailedException body } => new ObjectStoreException($"S3 read of '{key}' in bucket '{bucket}' broke off: {S3Retry.Describe(body.InnerException!)}", body.InnerException),
                    _ => ex,
                };
                if (!started.TrySetException(mapped))
                {
                    await pipe.Writer.CompleteAsync(mapped).ConfigureAwait(false);
                }
                else
                {
                    // The open itself failed: nobody will read or dispose a stream.
                    abandon.Dispose();
                }
            }
        }, CancellationToken.None);

        await started.Task.ConfigureAwait(false);
        return new OwnedStream(pipe.Reader.AsStream(), abandon);
    }

    public async Task<ObjectInfo> WriteAsync(string bucket, string key, Stream content, IReadOnlyDictionary<string, string> metadata, string? contentType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(metadata);
        ValidateKey(key);
        // The SDK needs the size up front to stream in parts; a stream that cannot tell is spooled to disk first.
        string? spool = null;
        var source = content;
        try
        {
            if (!content.CanSeek)
            {
                spool = Path.Combine(Path.GetTempPath(), $"castiron-s3-{Guid.NewGuid():N}");
                source = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                await content.CopyToAsync(source, cancellationToken).ConfigureAwait(false);
                source.Position = 0;
            }

            var start = source.Position;
            var size = source.Length - start;
            var etag = await _retry.RunAsync("write", bucket, key, transfer: true, async token =>
            {
                source.Position = start;
                var args = new PutObjectArgs().WithBucket(bucket).WithObject(key)
                    .WithStreamData(source).WithObjectSize(size)
                    .WithContentType(contentType ?? "application/octet-stream")
                    .WithHeaders(MetadataHeaders(metadata));
                return (await _client.PutObjectAsync(args, token).ConfigureAwait(false)).Etag;
            }, cancellationToken).ConfigureAwait(false);

            var written = new ObjectInfo(key, size, Unquote(etag), DateTimeOffset.UtcNow, contentType ?? "application/octet-stream", metadata.ToImmutableDictionary(p => p.Key.ToLowerInvariant(), p => p.Value));
            // Some servers leave the ETag out of a multipart completion: a HEAD gives it (unless the object was
            // already moved on by someone reacting to its notification).
            return written.ETag.Length > 0 ? written : await StatAsync(bucket, key, cancellationToken).ConfigureAwait(false) ?? written;
        }
        finally
        {
            if (spool is not null)
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async Task<ObjectInfo> CopyAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        ValidateKey(sourceKey);
        ValidateKey(destinationKey);
        var source = await StatAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false) ?? throw new Storage.ObjectNotFoundException(bucket, sourceKey);
        await CopyFromAsync(bucket, source, destinationKey, metadata, cancellationToken).ConfigureAwait(false);
        // Described by a HEAD (the SDK returns nothing); a copy already moved on is described from its source.
        return await StatAsync(bucket, destinationKey, cancellationToken).ConfigureAwait(false)
            ?? source with { Key = destinationKey, Metadata = metadata?.ToImmutableDictionary(p => p.Key.ToLowerInvariant(), p => p.Value) ?? source.Metadata };
    }

    /// <summary>
    /// Copy then delete, with no more requests than that needs: the source's stat (for its content type, and to see
    /// whether an interrupted move already completed), the copy, the delete.
    /// </summary>
    public async Task MoveAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        ValidateKey(sourceKey);
        ValidateKey(destinationKey);
        if (await StatAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false) is not { } source)
        {
            // Gone: either the move already happened (the destination exists) or there is nothing to move.
            if (string.Equals(sourceKey, destinationKey, StringComparison.Ordinal) || await StatAsync(bucket, destinationKey, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new Storage.ObjectNotFoundException(bucket, sourceKey);
            }

            return;
        }

        if (string.Equals(sourceKey, destinationKey, StringComparison.Ordinal))
        {
            if (metadata is not null)
            {
                await CopyFromAsync(bucket, source, destinationKey, metadata, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        await CopyFromAsync(bucket, source, destinationKey, metadata, cancellationToken).ConfigureAwait(false);
        await DeleteAsync(bucket, sourceKey, cancellationToken).ConfigureAwait(false);
    }

    private async Task CopyFromAsync(string bucket, ObjectInfo source, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        if (metadata is not null && source.Size > SingleCopyLimit)
        {
            // Above 5 GiB the SDK copies in parts and drops replaced metadata (and the content type): refuse rather
            // than move a file that would lose its id.
            throw new ObjectStoreException($"'{source.Key}' is {source.Size} bytes: the Minio SDK cannot copy objects over 5 GiB with new metadata, so it cannot be moved through the stages");
        }

        try
        {
            await _retry.RunAsync("copy", bucket, destinationKey, transfer: true, async token =>
            {
                var from = new CopySourceObjectArgs().WithBucket(bucket).WithObject(source.Key);
                var args = new CopyObjectArgs().WithBucket(bucket).WithObject(destinationKey).WithCopyObjectSource(from);
                if (metadata is not null)
                {
                    // A replace drops the content type unless it is given again.
                    var headers = MetadataHeaders(metadata);
                    headers["Content-Type"] = source.ContentType ?? "application/octet-stream";
                    args = args.WithReplaceMetadataDirective(true).WithHeaders(headers);
                }

                await _client.CopyObjectAsync(args, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MinioNotFound)
        {
            throw new Storage.ObjectNotFoundException(bucket, source.Key);
        }
    }

    public async Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        try
        {
            await _retry.RunAsync("delete", bucket, key, token => _client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(bucket).WithObject(key), token), cancellationToken).ConfigureAwait(false);
        }
        catch (MinioNotFound)
        {
            // Deleting a missing object is not an error.
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _http.Dispose();
    }

    internal static Dictionary<string, string> MetadataHeaders(IReadOnlyDictionary<string, string> metadata)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in metadata)
        {
            headers[MetaPrefix + name.ToLowerInvariant()] = MetadataValues.Encode(value);
        }

        return headers;
    }

    private static ObjectInfo ToInfo(string key, ObjectStat stat)
    {
        var metadata = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in stat.MetaData)
        {
            // The SDK strips x-amz-meta- and mixes in the content type; servers differ in casing: one form here.
            var bare = name.StartsWith(MetaPrefix, StringComparison.OrdinalIgnoreCase) ? name[MetaPrefix.Length..] : name;
            if (!StandardHeaders.Contains(bare))
            {
                metadata[bare.ToLowerInvariant()] = MetadataValues.Decode(value);
            }
        }

        return new ObjectInfo(key, stat.Size, Unquote(stat.ETag), new DateTimeOffset(stat.LastModified).ToUniversalTime(), stat.ContentType, metadata.ToImmutable());
    }

    private static int CompareUtf8(string a, string b) =>
        System.Text.Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(b));

    private static string Unquote(string? etag) => etag?.Trim('"') ?? "";

    /// <summary>
    /// The Minio SDK refuses object names longer than 512 UTF-16 characters (its own check, whatever their UTF-8
    /// length); S3 allows 1,024 bytes. Longer keys are refused here with a message that says so.
    /// </summary>
    public const int MaxKeyChars = 512;

    /// <summary>Why this store cannot handle <paramref name="key"/>, or null.</summary>
    public static string? KeyProblem(string key) =>
        ObjectKeys.Validate(key) ?? (key.Length > MaxKeyChars
            ? $"object key is {key.Length} characters; the Minio SDK handles at most {MaxKeyChars} (S3's 1,024-byte limit is reached with multi-byte characters only)"
            : null);

    private static void ValidateKey(string key)
    {
        if (KeyProblem(key) is { } problem)
        {
            throw new ArgumentException($"{problem}: '{key}'", nameof(key));
        }
    }

    [LoggerMessage(10, LogLevel.Information, "Created bucket '{Bucket}'")]
    private partial void LogBucketCreated(string bucket);

    [LoggerMessage(12, LogLevel.Warning, "Listing skipped '{ObjectKey}': {Problem}")]
    private partial void LogSkipped(string objectKey, string problem);

    [LoggerMessage(11, LogLevel.Warning, "S3 listing of '{Prefix}' failed (attempt {Attempt}); continuing after the last key seen: {Reason}")]
    private partial void LogListRetry(Exception exception, string prefix, int attempt, string reason);

    /// <summary>
    /// The SDK adds a Content-Type with parameters (<c>text/plain; charset=utf-8</c>) to the default one of an empty
    /// body instead of replacing it, so the header sent differs from the one signed and the server refuses the copy.
    /// Keeps the value the SDK meant (the last).
    /// </summary>
    private sealed class SingleContentTypeHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is { } content && content.Headers.TryGetValues("Content-Type", out var values) && values.ToList() is { Count: > 1 } all)
            {
                content.Headers.Remove("Content-Type");
                content.Headers.TryAddWithoutValidation("Content-Type", all[^1]);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// The SDK hands a GET's body to the caller's callback before it looks at the status, so a 404 or 503 would reach
    /// the reader as an error document. An object GET (no query) with an error status becomes an exception here,
    /// carrying the status, before the SDK sees it.
    /// </summary>
    private sealed class ObjectGetStatusHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (request.Method == HttpMethod.Get && request.RequestUri is { Query.Length: 0 } && !response.IsSuccessStatusCode)
            {
                var status = response.StatusCode;
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                response.Dispose();
                var code = System.Text.RegularExpressions.Regex.Match(body, "<Code>([^<]*)</Code>").Groups[1].Value;
                throw new HttpRequestException($"GET answered {(int)status} {status}{(code.Length > 0 ? $" ({code})" : "")}", null, status);
            }

            return response;
        }
    }

    /// <summary>
    /// The SDK checks that the bucket exists (a HEAD on it) before every stat, read and copy, doubling the requests
    /// of the workflow's commonest calls. A bucket seen to exist is taken to exist for a few seconds.
    /// </summary>
    private sealed class BucketCheckCache : DelegatingHandler
    {
        private static readonly TimeSpan Trust = TimeSpan.FromSeconds(5);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri;
            var isBucketCheck = request.Method == HttpMethod.Head && uri is not null && uri.Query.Length == 0 && uri.AbsolutePath.Trim('/') is var path && !path.Contains('/', StringComparison.Ordinal);
            var key = isBucketCheck ? uri!.Authority + uri.AbsolutePath : null;
            if (key is not null && _seen.TryGetValue(key, out var until) && Environment.TickCount64 < until)
            {
                return new HttpResponseMessage(System.Net.HttpStatusCode.OK) { RequestMessage = request, Content = new ByteArrayContent([]) };
            }

            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (key is not null)
            {
                if (response.IsSuccessStatusCode)
                {
                    _seen[key] = Environment.TickCount64 + (long)Trust.TotalMilliseconds;
                }
                else
                {
                    _seen.TryRemove(key, out _);
                }
            }

            return response;
        }
    }

    /// <summary>The reading end of a download; disposing it stops the download.</summary>
    private sealed class OwnedStream(Stream inner, CancellationTokenSource owner) : Stream
    {
        private int _disposed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Cancel();
                inner.Dispose();
                owner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
