namespace Orleans.CastIron.Jobs;

/// <summary>
/// A job ("pizza tracker") event (seed-spec F-22). Exactly one of the payload members is set for a
/// <c>job_update</c>; <c>job_created</c> carries file name, handler and uploader.
/// </summary>
[GenerateSerializer, Immutable, Alias("castiron.JobEvent")]
public sealed record JobEvent
{
    /// <summary><c>job_created</c> or <c>job_update</c>.</summary>
    [Id(0)] public JobEventType Type { get; init; }

    /// <summary>The job id; also the Kafka record key.</summary>
    [Id(1)] public string JobId { get; init; } = "";

    /// <summary><c>job_created</c>: the leaf of the renamed file, <c>&lt;uuid&gt;-&lt;name&gt;</c>.</summary>
    [Id(2)] public string? Filename { get; init; }

    /// <summary><c>job_created</c>: the leaf of the config key, e.g. <c>example_config.toml</c>.</summary>
    [Id(3)] public string? Handler { get; init; }

    /// <summary><c>job_created</c>: who uploaded the file (the seed always sends <c>castiron</c>).</summary>
    [Id(4)] public string? Uploader { get; init; }

    /// <summary><c>job_update</c>: <c>success</c>, <c>failure</c> or <c>canceled</c>.</summary>
    [Id(5)] public string? Status { get; init; }

    /// <summary><c>job_update</c>: progress in 0..1.</summary>
    [Id(6)] public double? Progress { get; init; }

    /// <summary><c>job_update</c>: free-text task description.</summary>
    [Id(7)] public string? Task { get; init; }

    /// <summary><c>job_update</c>: records committed so far.</summary>
    [Id(8)] public long? Committed { get; init; }

    /// <summary><c>config_error</c>: what is wrong with the config named by <see cref="JobId"/>.</summary>
    [Id(9)] public ImmutableArray<string> Errors { get; init; } = [];

    /// <summary>Creates a <c>job_created</c> event.</summary>
    public static JobEvent Created(string jobId, string filename, string handler, string uploader) =>
        new() { Type = JobEventType.JobCreated, JobId = jobId, Filename = filename, Handler = handler, Uploader = uploader };

    /// <summary>
    /// Creates a <c>config_error</c> event: a processor config could not be registered. Job-event style, keyed by the
    /// config's object key in <c>job_id</c>, so the consumers of job events see broken configs too.
    /// </summary>
    public static JobEvent ConfigErrors(string configKey, IEnumerable<string> errors) =>
        new() { Type = JobEventType.ConfigError, JobId = configKey, Errors = [.. errors] };

    /// <summary>Creates a <c>job_update</c> carrying a final status.</summary>
    public static JobEvent StatusUpdate(string jobId, string status) =>
        new() { Type = JobEventType.JobUpdate, JobId = jobId, Status = status };

    /// <summary>Creates a <c>job_update</c> carrying progress (0..1).</summary>
    public static JobEvent ProgressUpdate(string jobId, double progress) =>
        new() { Type = JobEventType.JobUpdate, JobId = jobId, Progress = progress };

    /// <summary>Creates a <c>job_update</c> carrying a task description.</summary>
    public static JobEvent TaskUpdate(string jobId, string task) =>
        new() { Type = JobEventType.JobUpdate, JobId = jobId, Task = task };

    /// <summary>Creates a <c>job_update</c> carrying a committed-records count.</summary>
    public static JobEvent CommittedUpdate(string jobId, long committed) =>
        new() { Type = JobEventType.JobUpdate, JobId = jobId, Committed = committed };
}

/// <summary>The two job event types.</summary>
public enum JobEventType
{
    /// <summary><c>job_created</c></summary>
    JobCreated,

    /// <summary><c>job_update</c></summary>
    JobUpdate,

    /// <summary><c>config_error</c> (ours, not the seed's)</summary>
    ConfigError,
}
