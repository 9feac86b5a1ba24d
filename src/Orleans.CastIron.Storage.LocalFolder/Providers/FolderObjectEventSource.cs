using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// Bucket events for a local folder. On Linux the bucket folder tree is watched with inotify (<see cref="FolderTreeWatcher"/>):
/// a file closed after writing or renamed in is complete, and announced at once. A full scan runs whenever a folder
/// comes or goes, a file goes, events were lost, and at least every <see cref="LocalFolderOptions.ScanInterval"/>: it
/// announces what no event told of (a file never closed, a hard link, a lost event, every file where inotify cannot be
/// used) once its size and time stamp have been stable for <see cref="LocalFolderOptions.SettleTime"/>, so a file still
/// being written is not taken. Elsewhere (or when inotify cannot be had) a <see cref="FileSystemWatcher"/> only says
/// "look now" and the scan decides. A file is announced again only when it changes; an event whose handler failed is
/// offered again on the next scan.
/// </summary>
public sealed partial class FolderObjectEventSource(
    FolderObjectStore store,
    string bucket,
    LocalFolderOptions options,
    ILogger<FolderObjectEventSource> logger,
    TimeProvider? time = null) : IObjectEventSource
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    // The scan and the inotify deliveries run side by side: _gate guards what was announced and what is being
    // announced, so one key is announced by one of them at a time, and a signature only once.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Announced> _announced = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Claim> _inFlight = new(StringComparer.Ordinal);
    private long _sequence;
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);

    // Keys present at the last scan, and keys the watcher saw go away: a file removed before it settled, or even
    // before a scan saw it, is still reported removed.
    private HashSet<string> _present = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _goneHints = new(StringComparer.Ordinal);

    // Keys inotify said are complete, waiting for their delivery (each queued once), while RunAsync watches.
    private readonly ConcurrentDictionary<string, byte> _queued = new(StringComparer.Ordinal);
    private volatile ChannelWriter<string>? _completed;
    private volatile bool _watchLost;
    private int _saidUnavailable;
    private int _saidOverflow;
    private int _saidUnwatched;

    public async Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var bucketPath = store.BucketPath(bucket);
        Directory.CreateDirectory(bucketPath);
        using var wake = new SemaphoreSlim(0);
        void Wake()
        {
            try
            {
                if (wake.CurrentCount == 0)
                {
                    wake.Release();
                }
            }
            catch (ObjectDisposedException)
            {
                // A late notification after the run ended.
            }
        }

        var completed = Channel.CreateUnbounded<string>();
        var deliveries = new List<Task>();
        FolderTreeWatcher? tree = null;
        FileSystemWatcher? fallback = null;
        try
        {
            // Watching starts before the first scan, so nothing falls between the two.
            _watchLost = false;
            tree = StartInotify(bucketPath, Wake, completed.Writer);
            if (tree is null)
            {
                fallback = StartFileSystemWatcher(bucketPath, Wake);
            }

            _completed = completed.Writer;
            for (var i = 0; i < options.DeliveryParallelism; i++)
            {
                deliveries.Add(Task.Run(() => DeliverCompletedAsync(completed.Reader, handler, cancellationToken), CancellationToken.None));
            }

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

                if (_watchLost && Directory.Exists(bucketPath))
                {
                    // The bucket folder was removed (and is back) or reading failed: watch anew; the scan just made
                    // up for what the lost watch missed.
                    _watchLost = false;
                    tree?.Dispose();
                    tree = StartInotify(bucketPath, Wake, completed.Writer);
                }

                var wait = settleWait is { } s && s < options.ScanInterval ? s : options.ScanInterval;
                try
                {
                    // Coalesce bursts of notifications (our own moves cause many): a file the scan takes has to have
                    // settled anyway, so scanning more often than that only burns I/O. Completed files do not wait
                    // for this: inotify hands them on by themselves.
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
        finally
        {
            _completed = null;
            completed.Writer.TryComplete();
            tree?.Dispose();
            fallback?.Dispose();
            await Task.WhenAll(deliveries).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _queued.Clear();
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
        // Announcements recorded from here on are numbered above listedFrom.
        long listedFrom;
        lock (_gate)
        {
            listedFrom = _sequence;
        }

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
            if (IsAnnounced(key, signature))
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

        // Announced before the listing began and not listed: gone. A key announced since (by inotify, while the
        // listing ran) was simply not there yet when its folder was listed.
        List<string> announcedBefore;
        lock (_gate)
        {
            announcedBefore = [.. _announced.Where(a => a.Value.Sequence <= listedFrom).Select(a => a.Key)];
        }

        var removed = _present
            .Concat(announcedBefore)
            .Concat(hints.Where(k => Paths.ObjectKeys.Validate(k) is null))
            .Where(k => !seen.Contains(k))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        lock (_skipped)
        {
            // Forget skips of files that are gone: a new file under that name is reported again.
            _skipped.RemoveWhere(k => !listed.Contains(k));
        }

        await Parallel.ForEachAsync(
            ready,
            new ParallelOptions { MaxDegreeOfParallelism = options.DeliveryParallelism, CancellationToken = cancellationToken },
            async (item, ct) => await AnnounceAsync(item.Key, item.Signature, handler, ct).ConfigureAwait(false)).ConfigureAwait(false);

        foreach (var key in removed)
        {
            var removal = new BucketEvent { EventName = "s3:ObjectRemoved:Delete", Kind = BucketEventKind.Removed, Bucket = bucket, Key = key };
            if (await DeliverAsync(handler, removal, cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    // Unless a new file was announced under this key meanwhile.
                    if (_announced.TryGetValue(key, out var announced) && announced.Sequence <= listedFrom)
                    {
                        _announced.Remove(key);
                    }
                }
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

    /// <summary>
    /// Announces <paramref name="key"/> as created, unless this very version was announced already or another
    /// announcement of the key is under way. <paramref name="listedSignature"/> is the scan's (null when inotify said
    /// the file is complete); it is what is recorded, so a file that changed after the scan listed it is announced
    /// again once it has settled.
    /// </summary>
    private async Task AnnounceAsync(string key, string? listedSignature, Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        if (!TryClaim(key, fromWatch: listedSignature is null))
        {
            return;
        }

        string? recorded = null;
        try
        {
            ObjectInfo? info;
            try
            {
                info = await store.StatAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // This object's failure only; it is looked at again at the next scan.
                Skip(key, $"{ex.GetType().Name}: {ex.Message}");
                return;
            }

            if (info is null || IsAnnounced(key, info.ETag))
            {
                return;
            }

            if (await DeliverAsync(handler, info.ToCreatedEvent(bucket), cancellationToken).ConfigureAwait(false))
            {
                recorded = listedSignature ?? info.ETag;
            }
        }
        finally
        {
            Release(key, recorded);
        }
    }

    /// <summary>Hands on the files inotify said are complete, one key at a time, while the run lasts.</summary>
    private async Task DeliverCompletedAsync(ChannelReader<string> completed, Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var key in completed.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _queued.TryRemove(key, out _);
                if (Paths.ObjectKeys.Validate(key) is { } problem)
                {
                    // As the scan does: said once, never handed on.
                    Skip(key, problem);
                    continue;
                }

                await AnnounceAsync(key, null, handler, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private bool IsAnnounced(string key, string signature)
    {
        lock (_gate)
        {
            return _announced.TryGetValue(key, out var announced) && announced.Signature == signature;
        }
    }

    /// <summary>
    /// Takes <paramref name="key"/> for one announcement. When it is taken already, a watch event is remembered and
    /// queued again once the other one ends (the file may have changed since it was looked at); a scan just leaves it.
    /// </summary>
    private bool TryClaim(string key, bool fromWatch)
    {
        lock (_gate)
        {
            if (_inFlight.TryGetValue(key, out var claim))
            {
                claim.Again |= fromWatch;
                return false;
            }

            _inFlight[key] = new Claim();
            return true;
        }
    }

    private void Release(string key, string? recorded)
    {
        bool again;
        lock (_gate)
        {
            _inFlight.Remove(key, out var claim);
            // A file that went while it was being announced is not recorded: a new one under its name is news.
            if (recorded is not null && claim is { Gone: false })
            {
                _announced[key] = new Announced(recorded, ++_sequence);
            }

            again = claim?.Again ?? false;
        }

        if (again)
        {
            QueueCompleted(key);
        }
    }

    private void QueueCompleted(string key)
    {
        if (_completed is { } writer && _queued.TryAdd(key, 0) && !writer.TryWrite(key))
        {
            _queued.TryRemove(key, out _);
        }
    }

    /// <summary>A file deleted or renamed away: a hint for the next scan, which reports it removed.</summary>
    private void Gone(string key)
    {
        _goneHints[key] = 0;
        lock (_gate)
        {
            // Whatever comes under this name next is a new file, even with the same size and time stamp.
            _announced.Remove(key);
            if (_inFlight.TryGetValue(key, out var claim))
            {
                claim.Gone = true;
            }
        }
    }

    private FolderTreeWatcher? StartInotify(string bucketPath, Action wake, ChannelWriter<string> completed)
    {
        var tree = FolderTreeWatcher.TryStart(bucketPath, change => OnFolderChange(change, wake), out var problem);
        if (tree is not null)
        {
            LogWatching(bucket);
        }
        else if (Interlocked.Exchange(ref _saidUnavailable, 1) == 0)
        {
            if (OperatingSystem.IsLinux())
            {
                LogInotifyUnavailable(bucket, problem ?? "unknown");
            }
            else
            {
                LogInotifyNotHere(bucket);
            }
        }

        return tree;
    }

    /// <summary>Runs on the watcher's thread, in the kernel's order of events; never throws.</summary>
    private void OnFolderChange(FolderChange change, Action wake)
    {
        try
        {
            switch (change.Kind)
            {
                case FolderChangeKind.Completed:
                    QueueCompleted(change.Key!);
                    break;
                case FolderChangeKind.Gone:
                    Gone(change.Key!);
                    wake();
                    break;
                case FolderChangeKind.Rescan:
                    if (change.Overflow && Interlocked.Exchange(ref _saidOverflow, 1) == 0)
                    {
                        LogOverflow(bucket);
                    }

                    wake();
                    break;
                case FolderChangeKind.Unwatched:
                    if (Interlocked.Exchange(ref _saidUnwatched, 1) == 0)
                    {
                        LogUnwatched(bucket, change.Problem ?? "unknown");
                    }

                    break;
                case FolderChangeKind.Lost:
                    _watchLost = true;
                    LogWatchLost(bucket, change.Problem ?? "unknown");
                    wake();
                    break;
            }
        }
        catch (Exception ex)
        {
            LogWatchEventFailed(ex, bucket);
        }
    }

    /// <summary>Where inotify cannot be had: a <see cref="FileSystemWatcher"/> that only wakes the scan, as before.</summary>
    private FileSystemWatcher? StartFileSystemWatcher(string bucketPath, Action wake)
    {
        FileSystemWatcher? watcher = null;
        try
        {
            watcher = new FileSystemWatcher(bucketPath) { IncludeSubdirectories = true, InternalBufferSize = 64 * 1024 };
            watcher.Created += (_, _) => wake();
            watcher.Changed += (_, _) => wake();
            void GoneAt(string? fullPath)
            {
                if (fullPath is not null)
                {
                    _goneHints[FolderObjectStore.KeyOf(bucketPath, fullPath)] = 0;
                }
            }

            watcher.Renamed += (_, e) => { GoneAt(e.OldFullPath); wake(); };
            watcher.Deleted += (_, e) => { GoneAt(e.FullPath); wake(); };
            watcher.Error += (_, _) => wake();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or ArgumentException)
        {
            // No watcher at all: the periodic scan alone still finds everything.
            watcher?.Dispose();
            LogNoWatcher(ex, bucket);
            return null;
        }
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

    [LoggerMessage(4, LogLevel.Debug, "Watching bucket folder '{Bucket}' with inotify: a file closed after writing or renamed in is taken at once")]
    private partial void LogWatching(string bucket);

    [LoggerMessage(5, LogLevel.Warning, "inotify cannot watch bucket folder '{Bucket}' ({Reason}); files are taken once unchanged for the settle time")]
    private partial void LogInotifyUnavailable(string bucket, string reason);

    [LoggerMessage(6, LogLevel.Information, "Bucket folder '{Bucket}' is watched with FileSystemWatcher (inotify is Linux only); files are taken once unchanged for the settle time")]
    private partial void LogInotifyNotHere(string bucket);

    [LoggerMessage(7, LogLevel.Warning, "inotify lost events for bucket folder '{Bucket}' (its queue overflowed); a full scan picks up what was missed, once settled")]
    private partial void LogOverflow(string bucket);

    [LoggerMessage(8, LogLevel.Warning, "Some folders of bucket '{Bucket}' cannot be watched ({Reason}); their files are taken by the periodic scan once unchanged for the settle time")]
    private partial void LogUnwatched(string bucket, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Watching bucket folder '{Bucket}' stopped ({Reason}); it is watched again after the next scan")]
    private partial void LogWatchLost(string bucket, string reason);

    [LoggerMessage(10, LogLevel.Error, "Handling a change in bucket folder '{Bucket}' failed; the next scan makes up for it")]
    private partial void LogWatchEventFailed(Exception exception, string bucket);

    [LoggerMessage(11, LogLevel.Warning, "Bucket folder '{Bucket}' cannot be watched; files are found by the periodic scan only")]
    private partial void LogNoWatcher(Exception exception, string bucket);

    /// <summary>A version announced, and when (a sequence number, to tell what a scan's listing could have seen).</summary>
    private readonly record struct Announced(string Signature, long Sequence);

    /// <summary>A key being announced; Again: inotify said it is complete meanwhile; Gone: it went meanwhile.</summary>
    private sealed class Claim
    {
        public bool Again { get; set; }

        public bool Gone { get; set; }
    }
}
