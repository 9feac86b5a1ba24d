using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Feeds bucket events to grains: <c>.toml</c> keys to the registry, data keys to their FileJob, placeholders and
/// error logs nowhere. At silo start it rescans the configs, resumes every queued or processing file (a crash or
/// restart loses nothing) and then follows the event source; it repeats the resume sweep every
/// <see cref="CastIronOptions.RecoveryInterval"/>. Intake can be paused and resumed (<c>/manager/stop-consumers</c>).
/// </summary>
public sealed partial class IntakeService(
    IGrainFactory grains,
    IObjectEventSource source,
    IFileStatusStore statusStore,
    IOptions<CastIronOptions> options,
    TimeProvider time,
    ILogger<IntakeService> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _resumed = NewSignal(set: true);
    private CancellationTokenSource _pause = new();
    private Task _intake = Task.CompletedTask;
    private Task _recovery = Task.CompletedTask;

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
    public async Task RouteAsync(BucketEvent bucketEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucketEvent);
        var registry = grains.GetGrain<IProcessorRegistryGrain>(bucketEvent.Bucket);
        switch (SkipRules.Route(bucketEvent))
        {
            case EventRoute.ProcessorConfig when bucketEvent.Kind == BucketEventKind.Removed:
                await registry.ConfigRemovedAsync(bucketEvent.Key).ConfigureAwait(false);
                break;
            case EventRoute.ProcessorConfig:
                await registry.ConfigChangedAsync(bucketEvent.Key).ConfigureAwait(false);
                break;
            case EventRoute.DataFile:
                // Only files directly in a registered inbox concern a FileJob: our own stage moves and unrelated
                // folders are dropped here, without activating a grain per key. A config registered later wakes
                // the files already waiting in its inbox.
                if (await registry.InboxOwnerAsync(bucketEvent.Key).ConfigureAwait(false) is not null)
                {
                    await grains.GetGrain<IFileJobGrain>(bucketEvent.ObjectId).HandleEventAsync(bucketEvent).ConfigureAwait(false);
                }

                break;
        }
    }

    /// <summary>
    /// Resumes every queued or processing file that has not changed for <paramref name="quietFor"/> (files that are
    /// moving along on their own are left alone).
    /// </summary>
    public async Task RecoverAsync(TimeSpan quietFor, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - quietFor;
        foreach (var status in new[] { FileStatus.Processing, FileStatus.Queued })
        {
            var records = (await statusStore.QueryAsync(status, int.MaxValue, cancellationToken).ConfigureAwait(false))
                .Where(r => r.UpdatedAt <= cutoff)
                .ToList();
            foreach (var chunk in records.Chunk(64))
            {
                await Task.WhenAll(chunk.Select(async record =>
                {
                    try
                    {
                        await grains.GetGrain<IFileJobGrain>(record.JobKey).ResumeAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogResumeFailed(ex, record.JobKey, record.Id);
                    }
                })).ConfigureAwait(false);
            }
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        await grains.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket).RescanAsync().ConfigureAwait(false);
        _intake = Task.Run(() => IntakeLoopAsync(_stopping.Token), CancellationToken.None);
        _recovery = Task.Run(() => RecoveryLoopAsync(_stopping.Token), CancellationToken.None);
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            _pause.Cancel();
        }

        await Task.WhenAll(_intake, _recovery).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    private async Task RecoveryLoopAsync(CancellationToken stopping)
    {
        // The first sweep takes everything: whatever was in flight when the silo stopped is resumed now.
        var quietFor = TimeSpan.Zero;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await RecoverAsync(quietFor, stopping).ConfigureAwait(false);
                quietFor = options.Value.RecoveryInterval;
                await Task.Delay(options.Value.RecoveryInterval, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRecoveryFailed(ex);
                await Task.Delay(options.Value.RecoveryInterval, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    [LoggerMessage(3, LogLevel.Warning, "Resuming file {FileId} ('{JobKey}') failed; the next sweep tries again")]
    private partial void LogResumeFailed(Exception exception, string jobKey, string fileId);

    [LoggerMessage(4, LogLevel.Error, "The recovery sweep failed; it runs again later")]
    private partial void LogRecoveryFailed(Exception exception);
}
