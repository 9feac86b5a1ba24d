namespace Orleans.CastIron.Files;

/// <summary>
/// Per-file status. The names are the seed's status strings (<c>Queued</c>, <c>Processing</c>, <c>Complete</c>,
/// <c>Failed</c>, <c>Canceled</c>) and are written as such to status stores and metadata.
/// </summary>
public enum FileStatus
{
    /// <summary>Renamed and tracked; waiting for a matching processor.</summary>
    Queued,

    /// <summary>Moved to the processing folder; a processor is running or about to run.</summary>
    Processing,

    /// <summary>Processed successfully (terminal).</summary>
    Complete,

    /// <summary>Processing failed (terminal until retried).</summary>
    Failed,

    /// <summary>Canceled by a user (terminal until retried).</summary>
    Canceled,
}

/// <summary>The job-event status strings published on <c>pizza-tracker</c> (seed-spec F-22).</summary>
public static class JobEventStatus
{
    /// <summary>The file reached <see cref="FileStatus.Complete"/>.</summary>
    public const string Success = "success";

    /// <summary>The file reached <see cref="FileStatus.Failed"/>.</summary>
    public const string Failure = "failure";

    /// <summary>The file reached <see cref="FileStatus.Canceled"/>.</summary>
    public const string Canceled = "canceled";
}

/// <summary>What a status says about a file's life.</summary>
public static class FileStatusExtensions
{
    /// <summary>True for the statuses a file ends in: Complete, Failed, Canceled.</summary>
    public static bool IsFinal(this FileStatus status) => status is FileStatus.Complete or FileStatus.Failed or FileStatus.Canceled;
}
