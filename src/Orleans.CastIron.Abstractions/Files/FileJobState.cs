using Orleans.CastIron.Config;

namespace Orleans.CastIron.Files;

/// <summary>
/// Where one file is in its life: a closed set of states, decided by the pure <c>FileJobMachine</c> (Core) and
/// persisted by its FileJob grain. Every state but <see cref="NoJob"/> carries the file's status record.
/// </summary>
[GenerateSerializer, Immutable, Alias("castiron.FileJobState")]
public abstract record FileJobState
{
    /// <summary>The file's status record (the source of truth that status stores mirror).</summary>
    [Id(0)] public FileStatusRecord? Record { get; init; }

    /// <summary>The record, for states that have one.</summary>
    public FileStatusRecord File => Record ?? throw new InvalidOperationException($"{GetType().Name} has no file record");
}

/// <summary>Nothing is tracked (never was, or the final state's retention ended).</summary>
[GenerateSerializer, Immutable, Alias("castiron.NoJob")]
public sealed record NoJob : FileJobState;

/// <summary>The file is being moved to its inbox key: a new drop being renamed, or a retried file coming back.</summary>
[GenerateSerializer, Immutable, Alias("castiron.Arriving")]
public sealed record Arriving : FileJobState
{
    /// <summary>Where the file is moved from.</summary>
    [Id(0)] public string FromKey { get; init; } = "";
}

/// <summary>In its inbox, <c>Queued</c>, looking for (or waiting for) a config that takes it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.Queued")]
public sealed record Queued : FileJobState;

/// <summary>Matched; waiting for a processing slot (per config, then per silo). Not an attempt; never persisted.</summary>
[GenerateSerializer, Immutable, Alias("castiron.WaitingForSlot")]
public sealed record WaitingForSlot : FileJobState
{
    /// <summary>The job.</summary>
    [Id(0)] public JobPlan Job { get; init; } = new();
}

/// <summary>Attempt <see cref="FileStatusRecord.Attempts"/> of the job runs (or is about to start).</summary>
[GenerateSerializer, Immutable, Alias("castiron.Running")]
public sealed record Running : FileJobState
{
    /// <summary>The job.</summary>
    [Id(0)] public JobPlan Job { get; init; } = new();

    /// <summary>Where the attempt moved the file from (its inbox key, or the processing key for a retry); the move is repeated when the attempt is found lost.</summary>
    [Id(1)] public string FromKey { get; init; } = "";
}

/// <summary>An attempt failed (or was interrupted); the next waits until <see cref="Due"/>.</summary>
[GenerateSerializer, Immutable, Alias("castiron.Backoff")]
public sealed record Backoff : FileJobState
{
    /// <summary>The job.</summary>
    [Id(0)] public JobPlan Job { get; init; } = new();

    /// <summary>When the next attempt may ask for a slot.</summary>
    [Id(1)] public DateTimeOffset Due { get; init; }
}

/// <summary>The end is decided; the final move, error log, status write and event are being carried out.</summary>
[GenerateSerializer, Immutable, Alias("castiron.Finalizing")]
public sealed record Finalizing : FileJobState
{
    /// <summary>The final status.</summary>
    [Id(0)] public FileStatus Status { get; init; }

    /// <summary>Why (failure or cancel reason).</summary>
    [Id(1)] public string? Reason { get; init; }

    /// <summary>The key the file ends at.</summary>
    [Id(2)] public string Destination { get; init; } = "";

    /// <summary>The error log written next to a failed file, when the config asks for one.</summary>
    [Id(3)] public string? ErrorLogKey { get; init; }

    /// <summary>The error log's text.</summary>
    [Id(4)] public string? ErrorLogText { get; init; }

    /// <summary>Where the file is moved from.</summary>
    [Id(5)] public string FromKey { get; init; } = "";
}

/// <summary>Complete, Failed or Canceled; kept until <see cref="FileJobPolicy.Retention"/> has passed.</summary>
[GenerateSerializer, Immutable, Alias("castiron.Final")]
public sealed record Final : FileJobState
{
    /// <summary>When the file reached its final state.</summary>
    [Id(0)] public DateTimeOffset FinishedAt { get; init; }
}

/// <summary>One job: a match of the file to a config, with its attempts.</summary>
[GenerateSerializer, Immutable, Alias("castiron.JobPlan")]
public sealed record JobPlan
{
    /// <summary>The job id (the pizza tracker's <c>job_id</c>).</summary>
    [Id(0)] public string JobId { get; init; } = "";

    /// <summary>The config's key.</summary>
    [Id(1)] public string ConfigKey { get; init; } = "";

    /// <summary>The config as it was when the file matched.</summary>
    [Id(2)] public ProcessorConfig Config { get; init; } = new();

    /// <summary>Attempts allowed.</summary>
    [Id(3)] public int MaxAttempts { get; init; } = 1;

    /// <summary>Time limit per attempt.</summary>
    [Id(4)] public TimeSpan Timeout { get; init; }

    /// <summary>A user asked to cancel the running attempt.</summary>
    [Id(5)] public bool CancelRequested { get; init; }

    /// <summary>Whether <c>job_created</c> was published (once per job, after the first move to processing).</summary>
    [Id(6)] public bool Announced { get; init; }
}

/// <summary>The settings the machine decides with.</summary>
/// <param name="RetryBaseDelay">Wait before the second attempt; doubles per further attempt.</param>
/// <param name="RetryMaxDelay">Longest wait between attempts.</param>
/// <param name="Retention">How long a final job's state is kept (its status record stays in the status store).</param>
/// <param name="MaxInterruptions">Attempts lost to silo stops or crashes before the file is Failed (a file that kills its silo must not loop).</param>
/// <param name="RecheckAfter">When an in-flight job with no other timer is looked at again (a lost report, a stuck step).</param>
public sealed record FileJobPolicy(
    TimeSpan RetryBaseDelay,
    TimeSpan RetryMaxDelay,
    TimeSpan Retention,
    int MaxInterruptions = 5,
    TimeSpan? RecheckAfter = null)
{
    /// <summary>Defaults: 2 s base, 5 min max, 1 h retention, 5 interruptions, 1 min re-check.</summary>
    public static FileJobPolicy Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));

    /// <summary>The wait before attempt <paramref name="nextAttempt"/> (2 or more): base × 2^(n-2), capped.</summary>
    public TimeSpan RetryDelay(int nextAttempt)
    {
        var factor = Math.Pow(2, Math.Clamp(nextAttempt - 2, 0, 30));
        return TimeSpan.FromTicks((long)Math.Min(RetryBaseDelay.Ticks * factor, RetryMaxDelay.Ticks));
    }

    /// <summary>The re-check delay.</summary>
    public TimeSpan Recheck => RecheckAfter ?? TimeSpan.FromMinutes(1);
}
