using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Publishes job events to their job's feed (<see cref="IJobEventsGrain"/>), readable from any silo, and logs each as
/// its exact JSON. Publishing returns at once: each job's pending events go to its feed in one call at a time, in
/// order, so a processor's progress lines never wait on storage. A feed that cannot be written is retried; a graceful
/// stop sends what is pending before the silo goes.
/// </summary>
public sealed partial class GrainJobEventSink(IGrainFactory grains, ILogger<GrainJobEventSink> logger) : IJobEventSink, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Events a job may have waiting to be sent; past it the oldest waiting progress event is dropped.</summary>
    public const int MaxPendingPerJob = 1_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Pending> _jobs = new(StringComparer.Ordinal);

    public Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        if (logger.IsEnabled(LogLevel.Information))
        {
            LogJobEvent(jobEvent.JobId, JobEventJson.Serialize(jobEvent));
        }

        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobEvent.JobId, out var pending))
            {
                pending = new Pending();
                _jobs[jobEvent.JobId] = pending;
            }

            pending.Events.Add(jobEvent);
            // Never one being sent: those are removed by count once the feed has them.
            if (pending.Events.Count > MaxPendingPerJob && pending.Events.FindIndex(pending.InFlight, e => e is { Progress: not null, Status: null, Task: null, Committed: null }) is >= 0 and var progress)
            {
                pending.Events.RemoveAt(progress);
            }

            if (pending.Sending is null)
            {
                pending.Sending = Task.Run(() => SendAsync(jobEvent.JobId, pending), CancellationToken.None);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits until every event published so far was sent (or the silo stops trying).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task[] sending;
            lock (_lock)
            {
                sending = [.. _jobs.Values.Select(p => p.Sending).OfType<Task>()];
            }

            if (sending.Length == 0)
            {
                return;
            }

            await Task.WhenAll(sending).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        // Stops after the processors (Active) reported their last events, while grains still answer.
        lifecycle.Subscribe(nameof(GrainJobEventSink), ServiceLifecycleStage.BecomeActive, _ => Task.CompletedTask, FlushAsync);

    private async Task SendAsync(string jobId, Pending pending)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            JobEvent[] batch;
            lock (_lock)
            {
                if (pending.Events.Count == 0)
                {
                    pending.Sending = null;
                    _jobs.Remove(jobId);
                    return;
                }

                batch = [.. pending.Events];
                pending.InFlight = batch.Length;
            }

            try
            {
                await grains.GetGrain<IJobEventsGrain>(jobId).AppendAsync([.. batch]).ConfigureAwait(false);
                lock (_lock)
                {
                    // Only what was sent: events published meanwhile stay for the next call.
                    pending.Events.RemoveRange(0, batch.Length);
                    pending.InFlight = 0;
                }

                delay = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex)
            {
                lock (_lock)
                {
                    pending.InFlight = 0;
                }

                LogSendFailed(ex, jobId, batch.Length, delay);
                await Task.Delay(delay).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    private sealed class Pending
    {
        public List<JobEvent> Events { get; } = [];

        public Task? Sending { get; set; }

        public int InFlight { get; set; }
    }

    [LoggerMessage(1, LogLevel.Information, "Job event for {JobId}: {Json}")]
    private partial void LogJobEvent(string jobId, string json);

    [LoggerMessage(2, LogLevel.Warning, "Sending {Count} event(s) of job {JobId} to its feed failed; retrying in {Delay}")]
    private partial void LogSendFailed(Exception exception, string jobId, int count, TimeSpan delay);
}
