using Microsoft.Extensions.Options;
using Orleans.CastIron.Telemetry;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Feeds bucket events to grains: <c>.toml</c> keys to the registry, files in registered inboxes to their FileJob
/// (keyed by the file id derived from the object), placeholders and everything else nowhere. At silo start it
/// rescans the configs, wakes every job that has a timer (in flight when the silo went), lists the registered
/// inboxes for files dropped meanwhile, then follows the event source. Where events can be lost (S3 notifications),
/// one silo lists the registered inboxes periodically (reconciliation). Intake can be paused and resumed
/// (<c>/manager/stop-consumers</c>).
/// </summary>
public sealed partial class IntakeService(
    IGrainFactory grains,
    IObjectEventSource source,
    IObjectStore store,
    ConfigSnapshotCache snapshots,
    JobTimerPump timers,
    IOptions<CastIronOptions> options,
    ILocalSiloDetails silo,
    IClusterMembershipService membership,
    TimeProvider time,
    ILogger<IntakeService> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private const int WakeBatch = 64;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly List<Task> _background = [];
    private TaskCompletionSource _resumed = NewSignal(set: true);
    private CancellationTokenSource _pause = new();

    /// <summary>True while intake is paused.</summary>
    public bool IsPaused
    {
        get
        {
            lock (_lock)
            {
                return !_resumed.Task.IsCompleted;
            }
        }
    }

    /// <summary>Stops taking events until <see cref="Resume"/>; events arriving meanwhile are taken then.</summary>
    public bool Pause()
    {
        lock (_lock)
        {
            if (!_resumed.Task.IsCompleted)
            {
                return false;
            }

            _resumed = NewSignal(set: false);
            _pause.Cancel();
            return true;
        }
    }

    /// <summary>Takes events again.</summary>
    public bool Resume()
    {
        lock (_lock)
        {
            if (_resumed.Task.IsCompleted)
            {
                return false;
            }

            _pause.Dispose();
            _pause = new CancellationTokenSource();
            _resumed.TrySetResult();
            return true;
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(IntakeService), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    /// <summary>Routes one bucket event to its grain.</summary>
    public Task RouteAsync(BucketEvent bucketEvent, CancellationToken cancellationToken) => RouteAsync(bucketEvent, listed: false, cancellationToken);

    /// <param name="listed">True for objects found by a listing rather than announced by an event.</param>
    private async Task RouteAsync(BucketEvent bucketEvent, bool listed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucketEvent);
        switch (SkipRules.Route(bucketEvent))
        {
            case EventRoute.ProcessorConfig when bucketEvent.Kind == BucketEventKind.Removed:
                await Registry(bucketEvent.Bucket).ConfigRemovedAsync(bucketEvent.Key).ConfigureAwait(false);
                break;
            case EventRoute.ProcessorConfig:
                await Registry(bucketEvent.Bucket).ConfigChangedAsync(bucketEvent.Key).ConfigureAwait(false);
                break;
            case EventRoute.DataFile when bucketEvent.Kind == BucketEventKind.Removed:
                // Only a tracked file's key names its job; a drop removed before it was renamed is found missing by its job.
                if (FileIds.IsValid(IdPrefix(bucketEvent.Key)))
                {
                    await grains.GetGrain<IFileJobGrain>(IdPrefix(bucketEvent.Key)).ObjectRemovedAsync(bucketEvent.Key).ConfigureAwait(false);
                }

                break;
            case EventRoute.DataFile:
                // Only files directly in a registered inbox concern a FileJob: our own stage moves and unrelated
                // folders are dropped here, without activating a grain. A config registered later wakes the files
                // already waiting in its inbox.
                // The event of a file that already carries its id is the echo of its own job's move (the rename,
                // a retry): the job drives it. Listings still hand such files over (parked files, lost job state).
                if (snapshots.Current.InboxOwner(bucketEvent.Key) is not null && (listed || FileIds.OfRenamed(bucketEvent.Key, bucketEvent.UserMetadata) is null))
                {
                    var fileId = FileIds.For(bucketEvent.Bucket, bucketEvent.Key, bucketEvent.ETag ?? "", bucketEvent.UserMetadata);
                    // The root of a file's trace: its job's calls, attempt and final move follow from here.
                    using var activity = CastIronTelemetry.Source.StartActivity("castiron.intake");
                    if (activity is not null)
                    {
                        activity.SetTag(CastIronTelemetry.FileIdTag, fileId);
                        activity.SetTag(CastIronTelemetry.ObjectKeyTag, bucketEvent.Key);
                        activity.SetTag("castiron.intake.source", listed ? "listing" : "event");
                    }

                    await grains.GetGrain<IFileJobGrain>(fileId).ObjectSeenAsync(bucketEvent).ConfigureAwait(false);
                }

                break;
        }
    }

    /// <summary>
    /// Hands the files waiting in <paramref name="inbox"/> to their jobs, in the background and in bounded batches,
    /// once this silo's config cache has reached <paramref name="version"/> (a config was just registered).
    /// </summary>
    public void WakeInbox(string bucket, string inbox, long version)
    {
        var task = Task.Run(async () =>
        {
            try
            {
                await snapshots.AtLeastAsync(version).ConfigureAwait(false);
                await ListInboxAsync(bucket, inbox, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogWakeFailed(ex, inbox);
            }
        });
        lock (_lock)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    /// <summary>Hands every data file directly in <paramref name="inbox"/> to its job.</summary>
    /// <param name="newDropsOnly">
    /// Only files not yet renamed <c>&lt;id&gt;-name</c>: what a lost event can leave behind. Renamed files waiting in
    /// an inbox have jobs with timers of their own, so a periodic pass costs nothing per queued file.
    /// </param>
    public Task<int> ListInboxAsync(string bucket, string inbox, CancellationToken cancellationToken, bool newDropsOnly = false) =>
        HandOverAsync(bucket, inbox, item => RouteAsync(item.ToCreatedEvent(bucket), listed: true, cancellationToken), cancellationToken, newDropsOnly);

    /// <summary>Hands every tracked file (one carrying its id) directly in <paramref name="folder"/> to its job.</summary>
    private Task<int> ListTrackedAsync(string bucket, string folder, CancellationToken cancellationToken) =>
        HandOverAsync(
            bucket,
            folder,
            item => FileIds.OfRenamed(item.Key, item.Metadata) is { } id ? grains.GetGrain<IFileJobGrain>(id).ObjectSeenAsync(item.ToCreatedEvent(bucket)) : Task.CompletedTask,
            cancellationToken);

    /// <summary>Lists the data files directly in <paramref name="folder"/> and runs <paramref name="handOver"/> for each, in bounded batches.</summary>
    private async Task<int> HandOverAsync(string bucket, string folder, Func<ObjectInfo, Task> handOver, CancellationToken cancellationToken, bool newDropsOnly = false)
    {
        var batch = new List<(string Key, Func<Task> Run)>(WakeBatch);
        var count = 0;
        await foreach (var listed in store.ListAsync(bucket, folder, recursive: false, cancellationToken).ConfigureAwait(false))
        {
            if (SkipRules.Route(listed.Key) != EventRoute.DataFile || (newDropsOnly && FileIds.IsValid(IdPrefix(listed.Key))))
            {
                continue;
            }

            batch.Add((listed.Key, async () =>
            {
                if (await WithMetadataAsync(bucket, listed, cancellationToken).ConfigureAwait(false) is { } item)
                {
                    await handOver(item).ConfigureAwait(false);
                }
            }));
            if (batch.Count == WakeBatch)
            {
                count += await RunBatchAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }

        return count + await RunBatchAsync(batch).ConfigureAwait(false);
    }

    /// <summary>
    /// A listed object with the metadata its routing needs: a key that looks like a tracked file (<c>&lt;id&gt;-name</c>)
    /// is only one when its metadata says so, and S3 listings carry no metadata, so such keys are stat-ed (null: gone).
    /// </summary>
    private async Task<ObjectInfo?> WithMetadataAsync(string bucket, ObjectInfo item, CancellationToken cancellationToken) =>
        item.Metadata.Count == 0 && FileIds.IsValid(IdPrefix(item.Key))
            ? await store.StatAsync(bucket, item.Key, cancellationToken).ConfigureAwait(false)
            : item;

    private async Task<int> RunBatchAsync(List<(string Key, Func<Task> Run)> batch)
    {
        await Task.WhenAll(batch.Select(async item =>
        {
            try
            {
                await item.Run().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // That file's failure only: the next listing or event offers it again.
                LogRouteFailed(ex, item.Key);
            }
        })).ConfigureAwait(false);
        return batch.Count;
    }

    private IProcessorRegistryGrain Registry(string bucket) => grains.GetGrain<IProcessorRegistryGrain>(bucket);

    private static string IdPrefix(string key)
    {
        var leaf = ObjectKeys.Leaf(key);
        return leaf.Length > 37 && leaf[36] == '-' ? leaf[..36] : "";
    }

    /// <summary>
    /// Lists the whole bucket for processor configs and hands the registry the set present, so configs added,
    /// changed or removed without an event are taken up. The bucket is listed here, not in the registry's turn: a big
    /// bucket must not time out a grain call.
    /// </summary>
    private async Task RescanConfigsAsync(string bucket, bool periodic, CancellationToken cancellationToken)
    {
        var listedSince = time.GetUtcNow();
        var configs = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        await foreach (var item in store.ListAsync(bucket, "", recursive: true, cancellationToken).ConfigureAwait(false))
        {
            if (SkipRules.Route(item.Key) == EventRoute.ProcessorConfig)
            {
                configs[item.Key] = item.ETag;
            }
        }

        // Periodic: events run alongside, and a config registered while the listing ran may have been passed over.
        await Registry(bucket).RescanAsync(configs.ToImmutable(), periodic ? listedSince : null).ConfigureAwait(false);
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var bucket = options.Value.Bucket;
        await RescanConfigsAsync(bucket, periodic: false, cancellationToken).ConfigureAwait(false);
        await snapshots.RefreshAsync().ConfigureAwait(false);
        var stopping = _stopping.Token;
        lock (_lock)
        {
            _background.Add(Task.Run(() => snapshots.FollowAsync(stopping), CancellationToken.None));
            _background.Add(Task.Run(() => IntakeLoopAsync(stopping), CancellationToken.None));
            _background.Add(Task.Run(() => timers.RunAsync(stopping), CancellationToken.None));
            // Silo start never waits on the number of files: recovery runs in the background.
            _background.Add(Task.Run(() => RecoverAsync(bucket, stopping), CancellationToken.None));
            _background.Add(Task.Run(() => WatchMembershipAsync(bucket, stopping), CancellationToken.None));
            if ((options.Value.ReconcileInterval ?? source.DefaultReconcileInterval) is { } every && every > TimeSpan.Zero)
            {
                _background.Add(Task.Run(() => ReconcileAsync(bucket, every, stopping), CancellationToken.None));
            }
        }
    }

    /// <summary>
    /// Every <paramref name="every"/>, on one silo of the cluster (the holder of the bucket's lease): lists the
    /// registered inboxes and hands files no event announced to their jobs, and, less often, lists the bucket for
    /// configs. A lost notification delays a file by at most one interval. Nothing happens while intake is paused.
    /// </summary>
    private async Task ReconcileAsync(string bucket, TimeSpan every, CancellationToken stopping)
    {
        var lease = grains.GetGrain<ILeaseGrain>($"reconcile/{bucket}");
        var holder = silo.SiloAddress.ToParsableString();
        // Configs every n-th pass: n passes of `every` make the config interval (at least every pass).
        var configEvery = Math.Max(1, (long)Math.Round(options.Value.ConfigReconcileInterval / every));
        var pass = 0L;
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                if (IsPaused)
                {
                    continue;
                }

                try
                {
                    if (!await lease.TryAcquireAsync(holder, every * 3).ConfigureAwait(false))
                    {
                        continue;
                    }

                    if (++pass % configEvery == 0)
                    {
                        await RescanConfigsAsync(bucket, periodic: true, stopping).ConfigureAwait(false);
                    }

                    var inboxes = snapshots.Current.Processors.Select(p => p.Paths.InboxFolder).Distinct(StringComparer.Ordinal).ToList();
                    var files = 0;
                    foreach (var inbox in inboxes)
                    {
                        files += await ListInboxAsync(bucket, inbox, stopping, newDropsOnly: true).ConfigureAwait(false);
                    }

                    LogReconciled(inboxes.Count, files);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    // The next interval tries again; nothing is lost meanwhile, only delayed.
                    LogReconcileFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// When a silo of the cluster dies, one survivor (the first to take the lease named after the dead silo) lists the
    /// registered inboxes and processing folders, as a restart would: jobs that were waiting for a slot on the dead
    /// silo, which only it knew about, are handed to their jobs again and queue on a live silo. Jobs with timers
    /// (running, backing off) are woken by their timers, which every silo's pump sees.
    /// </summary>
    private async Task WatchMembershipAsync(string bucket, CancellationToken stopping)
    {
        var handled = new HashSet<SiloAddress>();
        var first = true;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping).ConfigureAwait(false))
            {
                var dead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead && handled.Add(m.SiloAddress)).Select(m => m.SiloAddress).ToList();
                if (first)
                {
                    // Silos dead before this one started: its own start-up recovery covered them.
                    first = false;
                    continue;
                }

                foreach (var lost in dead)
                {
                    try
                    {
                        if (await grains.GetGrain<ILeaseGrain>($"silo-lost/{bucket}/{lost.ToParsableString()}").TryAcquireAsync(silo.SiloAddress.ToParsableString(), TimeSpan.FromHours(1)).ConfigureAwait(false))
                        {
                            LogSiloLost(lost.ToString());
                            await ListForRecoveryAsync(bucket, stopping).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                    {
                        LogRecoveryFailed(ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// After the cluster's start: every job with a timer is woken, then every registered inbox is listed. A silo
    /// joining a running cluster does neither: the silo that started it did, and what a silo leaves behind when it
    /// dies is re-offered by <see cref="WatchMembershipAsync"/> and the timers (waking every timer at each join would
    /// cost one call per file still within retention).
    /// </summary>
    private async Task RecoverAsync(string bucket, CancellationToken stopping)
    {
        try
        {
            if (OlderLiveSilo() is { } older)
            {
                LogJoinedRunningCluster(older.ToString());
                return;
            }

            await timers.WakeAllAsync(stopping).ConfigureAwait(false);
            await ListForRecoveryAsync(bucket, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(ex);
        }
    }

    /// <summary>
    /// A live silo that started before this one (its generation is older; the address breaks a tie), or null. Of silos
    /// starting together after the whole cluster went down, exactly one sees none and recovers.
    /// </summary>
    private SiloAddress? OlderLiveSilo()
    {
        var self = silo.SiloAddress;
        return membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status is SiloStatus.Active or SiloStatus.Joining && !m.SiloAddress.Equals(self))
            .Select(m => m.SiloAddress)
            .FirstOrDefault(other => other.Generation < self.Generation
                || (other.Generation == self.Generation && string.CompareOrdinal(other.ToParsableString(), self.ToParsableString()) < 0));
    }

    /// <summary>Lists every registered inbox (files to their jobs) and processing folder (tracked files whose job state is gone).</summary>
    private async Task ListForRecoveryAsync(string bucket, CancellationToken stopping)
    {
        var processors = snapshots.Current.Processors;
        var inboxes = processors.Select(p => p.Paths.InboxFolder).Distinct(StringComparer.Ordinal).ToList();
        var files = 0;
        foreach (var inbox in inboxes)
        {
            files += await ListInboxAsync(bucket, inbox, stopping).ConfigureAwait(false);
        }

        // Tracked files whose job state is gone (e.g. the state folder was deleted) would sit in processing
        // forever: their jobs find them there and put them back in their inbox. Files with live jobs are untouched.
        var strays = 0;
        foreach (var processing in processors.Select(p => p.Paths.ProcessingFolder).Distinct(StringComparer.Ordinal))
        {
            strays += await ListTrackedAsync(bucket, processing, stopping).ConfigureAwait(false);
        }

        LogRecovered(inboxes.Count, files, strays);
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            _pause.Cancel();
        }

        Task[] background;
        lock (_lock)
        {
            background = [.. _background];
        }

        await Task.WhenAll(background).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task IntakeLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Task resumed;
            CancellationToken pause;
            lock (_lock)
            {
                resumed = _resumed.Task;
                pause = _pause.Token;
            }

            try
            {
                await resumed.WaitAsync(stopping).ConfigureAwait(false);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, pause);
                LogIntakeStarted(options.Value.Bucket);
                await source.RunAsync(RouteAsync, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Paused or stopping: the loop decides which.
            }
            catch (Exception ex)
            {
                LogIntakeFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private static TaskCompletionSource NewSignal(bool set)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (set)
        {
            signal.SetResult();
        }

        return signal;
    }

    [LoggerMessage(1, LogLevel.Information, "Taking bucket events for '{Bucket}'")]
    private partial void LogIntakeStarted(string bucket);

    [LoggerMessage(2, LogLevel.Error, "The bucket event source failed; restarting it")]
    private partial void LogIntakeFailed(Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Waking the files in inbox '{Inbox}' failed; they are taken at their next event or the next start")]
    private partial void LogWakeFailed(Exception exception, string inbox);

    [LoggerMessage(20, LogLevel.Warning, "Silo {Silo} left the cluster without stopping: listing the inboxes and processing folders for the jobs it was holding")]
    private partial void LogSiloLost(string silo);

    [LoggerMessage(21, LogLevel.Information, "Joined a running cluster (silo {Older} started before this one): no recovery at start")]
    private partial void LogJoinedRunningCluster(string older);

    [LoggerMessage(4, LogLevel.Error, "Recovery at start failed")]
    private partial void LogRecoveryFailed(Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Handing '{ObjectKey}' to its job failed; it is offered again later")]
    private partial void LogRouteFailed(Exception exception, string objectKey);

    [LoggerMessage(7, LogLevel.Debug, "Reconciliation listed {Inboxes} registered inbox(es): {Files} file(s) handed to their jobs")]
    private partial void LogReconciled(int inboxes, int files);

    [LoggerMessage(8, LogLevel.Warning, "Reconciliation failed; it runs again at the next interval")]
    private partial void LogReconcileFailed(Exception exception);

    [LoggerMessage(6, LogLevel.Information, "Listed {Inboxes} registered inbox(es) at start: {Files} file(s) handed to their jobs; {Tracked} tracked file(s) in processing folders looked at")]
    private partial void LogRecovered(int inboxes, int files, int tracked);
}
