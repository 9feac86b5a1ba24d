namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Fires the jobs' durable one-shot timers (<see cref="IJobTimerStore"/>): at silo start every timer's job is woken
/// whatever its time (what was in flight when the silo went resumes now), then each timer when it is due. A timer is
/// removed once its job handled the wake, unless the job set a new time meanwhile.
/// </summary>
public sealed partial class JobTimerPump(
    IGrainFactory grains,
    IJobTimerStore timers,
    Microsoft.Extensions.Options.IOptions<CastIronOptions> options,
    TimeProvider time,
    ILogger<JobTimerPump> logger)
{
    private const int Page = 256;
    private const int Parallelism = 32;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    /// <summary>Wakes every job that has a timer (silo start).</summary>
    public async Task WakeAllAsync(CancellationToken cancellationToken)
    {
        var woken = 0;
        string? after = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var page = await timers.PageAsync(after, Page, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            await Parallel.ForEachAsync(page, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (timer, _) =>
            {
                await WakeAsync(timer, removeWhenDone: false).ConfigureAwait(false);
            }).ConfigureAwait(false);
            woken += page.Count;
            after = page[^1].FileId;
        }

        LogWokenAtStart(woken);
    }

    /// <summary>Fires due timers until <paramref name="stopping"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var due = await timers.DueAsync(time.GetUtcNow(), Page, stopping).ConfigureAwait(false);
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = stopping }, async (timer, _) =>
                {
                    await WakeAsync(timer, removeWhenDone: true).ConfigureAwait(false);
                }).ConfigureAwait(false);
                if (due.Count < Page)
                {
                    await Task.Delay(Tick, time, stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogPumpFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task WakeAsync(JobTimer timer, bool removeWhenDone)
    {
        try
        {
            await grains.GetGrain<IFileJobGrain>(timer.FileId).ResumeAsync().ConfigureAwait(false);
            if (removeWhenDone)
            {
                await timers.RemoveAsync(timer.FileId, onlyIfAt: timer.At).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Tried again after the recovery interval, so a job that keeps failing neither spins nor holds up the
            // timers behind it.
            LogWakeFailed(ex, timer.FileId, options.Value.RecoveryInterval);
            try
            {
                var retry = time.GetUtcNow() + options.Value.RecoveryInterval;
                if (retry > timer.At)
                {
                    await timers.SetAsync(timer.FileId, retry).ConfigureAwait(false);
                }
            }
            catch (Exception storeFailure) when (storeFailure is not OperationCanceledException)
            {
                LogPumpFailed(storeFailure);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Woke {Count} job(s) with timers at start")]
    private partial void LogWokenAtStart(int count);

    [LoggerMessage(2, LogLevel.Error, "The job timer pump failed; retrying")]
    private partial void LogPumpFailed(Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Waking job {FileId} failed; tried again in {Retry}")]
    private partial void LogWakeFailed(Exception exception, string fileId, TimeSpan retry);
}
