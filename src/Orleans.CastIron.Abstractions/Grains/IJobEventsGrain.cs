using Orleans.CastIron.Jobs;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>A job event with its place in the job's feed (1, 2, 3, ...): what a reader resumes after.</summary>
[GenerateSerializer, Immutable, Alias("castiron.SequencedJobEvent")]
public sealed record SequencedJobEvent([property: Id(0)] long Sequence, [property: Id(1)] JobEvent Event);

/// <summary>Events of a job after a position.</summary>
[GenerateSerializer, Immutable, Alias("castiron.JobEventPage")]
public sealed record JobEventPage
{
    /// <summary>The events, oldest first.</summary>
    [Id(0)] public ImmutableArray<SequencedJobEvent> Events { get; init; } = [];

    /// <summary>The sequence of the job's newest event (0 when it has none): resume after this.</summary>
    [Id(1)] public long Last { get; init; }

    /// <summary>True once the job published its final status: nothing follows.</summary>
    [Id(2)] public bool Ended { get; init; }

    /// <summary>How many intermediate progress events the job's bound dropped (their sequence numbers are skipped).</summary>
    [Id(3)] public long Dropped { get; init; }
}

/// <summary>
/// The events of one job ("pizza tracker": created, progress, task, committed, final status), kept for the job's
/// retention in the cluster's grain storage, so any silo answers for them and they survive restarts. A reader resumes
/// after the last sequence it saw and misses nothing.
/// </summary>
[Alias("castiron.IJobEventsGrain")]
public interface IJobEventsGrain : IGrainWithStringKey
{
    /// <summary>Appends events in the order given.</summary>
    [Alias("Append")]
    Task AppendAsync(ImmutableArray<JobEvent> events);

    /// <summary>Up to <paramref name="limit"/> events after sequence <paramref name="after"/>.</summary>
    [Alias("Read"), ReadOnly]
    Task<JobEventPage> ReadAsync(long after, int limit);

    /// <summary>
    /// As <see cref="ReadAsync"/>, but when nothing follows <paramref name="after"/> and the job has not ended, waits up
    /// to <paramref name="wait"/> (at most 30 s) for the next event: a long poll for watchers.
    /// </summary>
    [Alias("Wait"), AlwaysInterleave]
    Task<JobEventPage> WaitAsync(long after, int limit, TimeSpan wait);

    /// <summary>Forgets the job's events (its file's retention ended).</summary>
    [Alias("Clear")]
    Task ClearAsync();
}
