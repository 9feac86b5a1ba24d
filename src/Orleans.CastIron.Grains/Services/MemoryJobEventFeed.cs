using System.Collections.Concurrent;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// The embedded job-event sink: every event is logged (as its exact JSON) and kept in memory per job, readable over
/// the API (<c>GET /jobs/{jobId}/events</c>). Bounded: the oldest jobs are forgotten past <see cref="MaxJobs"/>.
/// </summary>
public sealed partial class MemoryJobEventFeed(ILogger<MemoryJobEventFeed> logger) : IJobEventSink
{
    public const int MaxJobs = 10_000;
    public const int MaxEventsPerJob = 1_000;

    private readonly ConcurrentDictionary<string, List<JobEvent>> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    public Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        var json = JobEventJson.Serialize(jobEvent);
        var events = _jobs.GetOrAdd(jobEvent.JobId, id =>
        {
            _order.Enqueue(id);
            return [];
        });
        lock (events)
        {
            if (events.Count < MaxEventsPerJob)
            {
                events.Add(jobEvent);
            }
        }

        while (_order.Count > MaxJobs && _order.TryDequeue(out var oldest))
        {
            _jobs.TryRemove(oldest, out _);
        }

        LogJobEvent(jobEvent.JobId, json);
        return Task.CompletedTask;
    }

    /// <summary>The events of one job in publication order (empty when unknown).</summary>
    public IReadOnlyList<JobEvent> Events(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var events))
        {
            return [];
        }

        lock (events)
        {
            return [.. events];
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Job event for {JobId}: {Json}")]
    private partial void LogJobEvent(string jobId, string json);
}
