namespace Orleans.CastIron.Grains.State;

/// <summary>A job's events as stored.</summary>
[GenerateSerializer, Alias("castiron.JobEventsState")]
public sealed class JobEventsState
{
    /// <summary>The events kept, oldest first.</summary>
    [Id(0)] public List<SequencedJobEvent> Events { get; set; } = [];

    /// <summary>The sequence of the newest event.</summary>
    [Id(1)] public long Last { get; set; }

    /// <summary>True once the final status was published.</summary>
    [Id(2)] public bool Ended { get; set; }

    /// <summary>Progress events dropped by the bound.</summary>
    [Id(3)] public long Dropped { get; set; }

    /// <summary>When the final status was published.</summary>
    [Id(4)] public DateTimeOffset? EndedAt { get; set; }
}
