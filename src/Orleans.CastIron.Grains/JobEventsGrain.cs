using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains.State;

namespace Orleans.CastIron.Grains;

/// <summary>
/// One job's event feed. Bounded: past <see cref="MaxEvents"/> the oldest intermediate progress events make room
/// (counted in <see cref="JobEventPage.Dropped"/>), so the created event, tasks, counts and the final status are always
/// there. Forgotten when its file's retention ends (the FileJob clears it), or, for a job its file no longer names
/// (a retried file's earlier job), when it is next activated after that retention.
/// </summary>
internal sealed class JobEventsGrain(
    [PersistentState("jobevents", CastIronNames.GrainStorage)] IPersistentState<JobEventsState> state,
    IOptions<CastIronOptions> options,
    TimeProvider time,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : Grain, IJobEventsGrain
{
    public const int MaxEvents = 1_000;
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    // Completed (and replaced) at each append: the long polls waiting on this activation wake.
    private TaskCompletionSource _appended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.EndedAt is { } ended && ended + options.Value.Retention < time.GetUtcNow())
        {
            await state.ClearStateAsync(cancellationToken);
        }
    }

    public async Task AppendAsync(ImmutableArray<JobEvent> events)
    {
        if (events.IsDefaultOrEmpty)
        {
            return;
        }

        var current = state.State;
        foreach (var jobEvent in events)
        {
            current.Events.Add(new SequencedJobEvent(++current.Last, jobEvent));
            if (jobEvent is { Type: JobEventType.JobUpdate, Status: not null })
            {
                current.Ended = true;
                current.EndedAt = time.GetUtcNow();
            }
        }

        while (current.Events.Count > MaxEvents)
        {
            var progress = current.Events.FindIndex(e => IsProgressOnly(e.Event));
            // Nothing but tasks, counts and statuses: the oldest goes (a job that writes thousands of TASK lines).
            current.Events.RemoveAt(progress >= 0 ? progress : 0);
            current.Dropped++;
        }

        await state.WriteStateAsync();
        var appended = _appended;
        _appended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        appended.TrySetResult();
    }

    public Task<JobEventPage> ReadAsync(long after, int limit) => Task.FromResult(Page(after, limit));

    public async Task<JobEventPage> WaitAsync(long after, int limit, TimeSpan wait)
    {
        var page = Page(after, limit);
        if (page.Events.Length > 0 || page.Ended || wait <= TimeSpan.Zero)
        {
            return page;
        }

        // Also over when this silo stops: a poll in progress would hold the silo's stop for its whole length.
        await _appended.Task.WaitAsync(wait < MaxWait ? wait : MaxWait, time, lifetime.ApplicationStopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        return Page(after, limit);
    }

    public async Task ClearAsync()
    {
        await state.ClearStateAsync();
        DeactivateOnIdle();
    }

    private JobEventPage Page(long after, int limit)
    {
        var current = state.State;
        return new JobEventPage
        {
            Events = [.. current.Events.Where(e => e.Sequence > after).Take(Math.Clamp(limit, 1, MaxEvents))],
            Last = current.Last,
            Ended = current.Ended,
            Dropped = current.Dropped,
        };
    }

    private static bool IsProgressOnly(JobEvent jobEvent) =>
        jobEvent is { Type: JobEventType.JobUpdate, Progress: not null, Status: null, Task: null, Committed: null };
}
