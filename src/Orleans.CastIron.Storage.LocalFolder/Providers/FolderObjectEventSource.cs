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
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);

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

    /// <summary>
    /// One pass over the bucket. Returns how long until a not-yet-settled file should be looked at again. A file that
    /// cannot be taken (a name the workflow cannot hold, a file that cannot be read) is skipped and logged once with
    /// the reason; it never stops the scan of the others.
    /// </summary>
    internal async Task<TimeSpan?> ScanAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var bucketPath = store.BucketPath(bucket);
        var now = _time.GetUtcNow();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Every name listed, valid or not (skips are said once while their file stays); seen holds the valid ones.
        var listed = new HashSet<string>(StringComparer.Ordinal);
        var ready = new List<(string Key, string Signature)>();
        TimeSpan? nextLook = null;

        foreach (var path in store.EnumerateFiles(bucketPath, bucketPath, recursive: true))
        {
            var key = FolderObjectStore.KeyOf(bucketPath, path);
            listed.Add(key);
            if (Paths.ObjectKeys.Validate(key) is { } problem)
            {
                // A name the workflow cannot hold (a newline, a backslash, too long): said once, never handed on,
                // not even as a removal.
                Skip(key, problem);
                continue;
            }

            FileInfo file;
            try
            {
                file = new FileInfo(path);
                if (!file.Exists)
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                seen.Add(key);
                Skip(key, ex.Message);
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

            ready.Add((key, signature));
        }

        var hints = _goneHints.Keys.ToList();
        foreach (var hint in hints)
        {
            _goneHints.TryRemove(hint, out _);
        }

        var removed = _present.Concat(hints.Where(k => Paths.ObjectKeys.Validate(k) is null)).Where(k => !seen.Contains(k)).Distinct(StringComparer.Ordinal).ToList();
        lock (_skipped)
        {
            // Forget skips of files that are gone: a new file under that name is reported again.
            _skipped.RemoveWhere(k => !listed.Contains(k));
        }

        await Parallel.ForEachAsync(
            ready,
            new ParallelOptions { MaxDegreeOfParallelism = options.DeliveryParallelism, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                ObjectInfo? info;
                try
                {
                    info = await store.StatAsync(bucket, item.Key, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // This object's failure only; it is looked at again at the next scan.
                    Skip(item.Key, $"{ex.GetType().Name}: {ex.Message}");
                    return;
                }

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

    /// <summary>Logs that <paramref name="key"/> is skipped, once while the file stays.</summary>
    private void Skip(string key, string reason)
    {
        bool first;
        lock (_skipped)
        {
            first = _skipped.Add(key);
        }

        if (first)
        {
            LogSkipped(FolderObjectStore.Printable(key), FolderObjectStore.Printable(reason));
        }
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

    [LoggerMessage(3, LogLevel.Warning, "Skipping '{ObjectKey}': {Reason}")]
    private partial void LogSkipped(string objectKey, string reason);
}
