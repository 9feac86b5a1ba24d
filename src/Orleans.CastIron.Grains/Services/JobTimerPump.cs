namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Fires the jobs' durable one-shot timers (<see cref="IJobTimerStore"/>): when the cluster starts every timer's job
/// is woken whatever its time (what was in flight when the cluster went resumes now), then each timer when it is due,
/// on one silo of the cluster (the store's claim). A timer is removed once its job handled the wake, unless the job set
/// a new time meanwhile.
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
                // A claim lasts one recovery interval: a wake that fails, or a silo that dies while waking, lets the
                // timer fire again then (on any silo), so a failing job neither spins nor holds up the timers behind it.
                var now = time.GetUtcNow();
                var due = await timers.ClaimDueAsync(now, Page, now + options.Value.RecoveryInterval, stopping).ConfigureAwait(false);
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
                // Only the claim: a job that set a new time while handling the wake keeps it.
                await timers.RemoveAsync(timer.FileId, onlyIfAt: timer.At).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWakeFailed(ex, timer.FileId, options.Value.RecoveryInterval);
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Woke {Count} job(s) with timers at start")]
    private partial void LogWokenAtStart(int count);

    [LoggerMessage(2, LogLevel.Error, "The job timer pump failed; retrying")]
    private partial void LogPumpFailed(Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Waking job {FileId} failed; tried again in {Retry}")]
    private partial void LogWakeFailed(Exception exception, string fileId, TimeSpan retry);
}
