namespace Orleans.CastIron.Grains.State;

/// <summary>What this object key is to the workflow.</summary>
public enum FileJobRole
{
    /// <summary>Nothing yet.</summary>
    None,

    /// <summary>A user's drop, renamed to a tracked key.</summary>
    Drop,

    /// <summary>A tracked file (the renamed key), owning its whole life.</summary>
    Job,
}

/// <summary>The step in progress; persisted before its side effects so it can be resumed.</summary>
public enum FileJobStep
{
    /// <summary>Nothing in flight.</summary>
    None,

    /// <summary>Drop: copying to the renamed key and deleting the drop.</summary>
    Renaming,

    /// <summary>Job: moving from the inbox to the processing folder.</summary>
    MovingToProcessing,

    /// <summary>Job: an attempt is running.</summary>
    Running,

    /// <summary>Job: waiting before the next attempt.</summary>
    Backoff,

    /// <summary>Job: moving to the final folder, writing the error log, recording and publishing the end.</summary>
    Finalizing,

    /// <summary>Job: moving a failed or canceled file back to the inbox.</summary>
    Requeueing,

    /// <summary>Job: adopted, while the drop's grain is still copying the file to this key.</summary>
    Arriving,
}

/// <summary>Persisted state of a FileJob grain.</summary>
[GenerateSerializer, Alias("castiron.FileJobState")]
public sealed class FileJobState
{
    [Id(0)] public FileJobRole Role { get; set; }

    [Id(1)] public FileJobStep Step { get; set; }

    /// <summary>Drop: the id given to the renamed file. Job: the file id.</summary>
    [Id(2)] public string? FileId { get; set; }

    /// <summary>Drop: the renamed key.</summary>
    [Id(3)] public string? RenamedKey { get; set; }

    /// <summary>Drop: the version of the drop being renamed.</summary>
    [Id(4)] public string? DropETag { get; set; }

    /// <summary>Job: the status record (the source of truth that status stores mirror).</summary>
    [Id(5)] public FileStatusRecord? Record { get; set; }

    /// <summary>Job: the config of the current job.</summary>
    [Id(6)] public ProcessorConfig? Config { get; set; }

    /// <summary>Job: the key the current step moves the file to.</summary>
    [Id(7)] public string? TargetKey { get; set; }

    /// <summary>Job: attempts allowed for the current job.</summary>
    [Id(8)] public int MaxAttempts { get; set; }

    /// <summary>Job: when the next attempt is due (Backoff).</summary>
    [Id(9)] public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>Job: a user asked to cancel the running attempt.</summary>
    [Id(10)] public bool CancelRequested { get; set; }

    /// <summary>Job: the status being finalized.</summary>
    [Id(11)] public FileStatus? FinalStatus { get; set; }

    /// <summary>Job: why (failure or cancel reason).</summary>
    [Id(12)] public string? FinalReason { get; set; }

    /// <summary>Job: output for the error log.</summary>
    [Id(13)] public string? FinalOutput { get; set; }

    /// <summary>Drop: user metadata, size and content type of the drop.</summary>
    [Id(14)] public AdoptRequest? Drop { get; set; }
}
