using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// Bucket events for a local folder. A <see cref="FileSystemWatcher"/> only says "look now"; a full scan decides what
/// changed, and runs on every notification and at least every <see cref="LocalFolderOptions.ScanInterval"/>, so an
/// event the watcher drops is still found. A file is announced once its size and time stamp have been stable for
/// <see cref="LocalFolderOptions.SettleTime"/> (a file still being copied in is not taken) and announced again only
/// when it changes. An event whose handler failed is offered again on the next scan.
/// </summary>
public sealed partial class FolderObjectEventSource(
    FolderObjectStore store,
    string bucket,
    LocalFolderOptions options,
    ILogger<FolderObjectEventSource> logger,
    TimeProvider? time = null) : IObjectEventSource
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, string> _announced = new(StringComparer.Ordinal);

    // Keys present at the last scan, and keys the watcher saw go away: a file removed before it settled, or even
    // before a scan saw it, is still reported removed.
    private HashSet<string> _present = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _goneHints = new(StringComparer.Ordinal);

    public async Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var bucketPath = store.BucketPath(bucket);
        Directory.CreateDirectory(bucketPath);
        using var wake = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(bucketPath) { IncludeSubdirectories = true, InternalBufferSize = 64 * 1024 };
        void Wake(object? sender, EventArgs e)
        {
            if (wake.CurrentCount == 0)
            {
                wake.Release();
            }
        }

        watcher.Created += Wake;
        watcher.Changed += Wake;
        void Gone(string? fullPath)
        {
            if (fullPath is not null)
            {
                _goneHints[Path.GetRelativePath(bucketPath, fullPath).Replace(Path.DirectorySeparatorChar, '/')] = 0;
            }
        }

        watcher.Renamed += (sender, e) => { Gone(e.OldFullPath); Wake(sender, e); };
        watcher.Deleted += (sender, e) => { Gone(e.FullPath); Wake(sender, e); };
        watcher.Error += Wake;
        watcher.EnableRaisingEvents = true;

        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan? settleWait;
            try
            {
                settleWait = await ScanAsync(handler, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogScanFailed(ex, bucket);
                settleWait = null;
            }

            var wait = settleWait is { } s && s < options.ScanInterval ? s : options.ScanInterval;
            try
            {
                // Coalesce bursts of notifications (our own moves cause many): a file is not taken before it has
                // settled anyway, so scanning more often than that only burns I/O.
                var gap = options.SettleTime < wait ? options.SettleTime : wait;
                await Task.Delay(gap, _time, cancellationToken).ConfigureAwait(false);
                await wake.WaitAsync(wait - gap, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>One pass over the bucket. Returns how long until a not-yet-settled file should be looked at again.</summary>
    internal async Task<TimeSpan?> ScanAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var bucketPath = store.BucketPath(bucket);
        var now = _time.GetUtcNow();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ready = new List<(string Key, FileInfo File, string Signature)>();
        TimeSpan? nextLook = null;

        foreach (var path in FolderObjectStore.EnumerateFiles(bucketPath, recursive: true))
        {
            var key = Path.GetRelativePath(bucketPath, path).Replace(Path.DirectorySeparatorChar, '/');
            if (Paths.ObjectKeys.Validate(key) is not null)
            {
                // A name S3 could not hold (e.g. with a backslash): never handed to the workflow.
                continue;
            }

            var file = new FileInfo(path);
            if (!file.Exists)
            {
                continue;
            }

            seen.Add(key);
            var modified = new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero);
            var signature = FolderObjectStore.Signature(file.Length, modified);
            if (_announced.TryGetValue(key, out var announced) && announced == signature)
            {
                continue;
            }

            var age = now - modified;
            if (age < options.SettleTime)
            {
                var remaining = options.SettleTime - age;
                nextLook = nextLook is null || remaining < nextLook ? remaining : nextLook;
                continue;
            }

            ready.Add((key, file, signature));
        }

        var hints = _goneHints.Keys.ToList();
        foreach (var hint in hints)
        {
            _goneHints.TryRemove(hint, out _);
        }

        var removed = _present.Concat(hints.Where(k => Paths.ObjectKeys.Validate(k) is null)).Where(k => !seen.Contains(k)).Distinct(StringComparer.Ordinal).ToList();

        await Parallel.ForEachAsync(
            ready,
            new ParallelOptions { MaxDegreeOfParallelism = options.DeliveryParallelism, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                var info = await store.StatAsync(bucket, item.Key, ct).ConfigureAwait(false);
                if (info is null)
                {
                    return;
                }

                var created = new BucketEvent
                {
                    EventName = "s3:ObjectCreated:Put",
                    Kind = BucketEventKind.Created,
                    Bucket = bucket,
                    Key = item.Key,
                    Size = info.Size,
                    ETag = info.ETag,
                    ContentType = info.ContentType,
                    UserMetadata = info.Metadata,
                    Sequencer = info.ETag,
                };
                if (await DeliverAsync(handler, created, ct).ConfigureAwait(false))
                {
                    lock (_announced)
                    {
                        _announced[item.Key] = item.Signature;
                    }
                }
            }).ConfigureAwait(false);

        foreach (var key in removed)
        {
            var removal = new BucketEvent { EventName = "s3:ObjectRemoved:Delete", Kind = BucketEventKind.Removed, Bucket = bucket, Key = key };
            if (await DeliverAsync(handler, removal, cancellationToken).ConfigureAwait(false))
            {
                _announced.Remove(key);
            }
            else
            {
                // Offered again at the next scan.
                seen.Add(key);
            }
        }

        _present = seen;

        return nextLook;
    }

    private async Task<bool> DeliverAsync(Func<BucketEvent, CancellationToken, Task> handler, BucketEvent bucketEvent, CancellationToken cancellationToken)
    {
        try
        {
            await handler(bucketEvent, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not recorded as announced: the next scan offers the event again.
            LogDeliveryFailed(ex, bucketEvent.Key, bucketEvent.EventName);
            return false;
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Scanning bucket folder '{Bucket}' failed; retrying at the next scan")]
    private partial void LogScanFailed(Exception exception, string bucket);

    [LoggerMessage(2, LogLevel.Warning, "Handling {EventName} for '{ObjectKey}' failed; it will be offered again at the next scan")]
    private partial void LogDeliveryFailed(Exception exception, string objectKey, string eventName);
}
