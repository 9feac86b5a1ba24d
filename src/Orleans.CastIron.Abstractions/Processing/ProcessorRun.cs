using Orleans.CastIron.Config;

namespace Orleans.CastIron.Processing;

/// <summary>One attempt at processing one file.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ProcessorRunRequest")]
public sealed record ProcessorRunRequest
{
    /// <summary>The bucket.</summary>
    [Id(0)] public string Bucket { get; init; } = "";

    /// <summary>The file id (also the key of the FileJob grain the outcome is reported to).</summary>
    [Id(2)] public string FileId { get; init; } = "";

    /// <summary>The job id.</summary>
    [Id(3)] public string JobId { get; init; } = "";

    /// <summary>1-based attempt number.</summary>
    [Id(4)] public int Attempt { get; init; }

    /// <summary>The object to process (in the processing folder).</summary>
    [Id(5)] public string ObjectKey { get; init; } = "";

    /// <summary>The name the file was dropped with.</summary>
    [Id(6)] public string OriginalFilename { get; init; } = "";

    /// <summary>The config's key.</summary>
    [Id(7)] public string ConfigKey { get; init; } = "";

    /// <summary>The config as it was when the job started.</summary>
    [Id(8)] public ProcessorConfig Config { get; init; } = new();

    /// <summary>The file's user metadata.</summary>
    [Id(9)] public ImmutableDictionary<string, string> Metadata { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Time limit of this attempt.</summary>
    [Id(10)] public TimeSpan Timeout { get; init; }
}

/// <summary>How an attempt ended.</summary>
public enum ProcessorOutcomeKind
{
    /// <summary>The processor succeeded.</summary>
    Succeeded,

    /// <summary>The processor failed (error, non-zero exit, timeout, unknown processor).</summary>
    Failed,

    /// <summary>A user canceled the job.</summary>
    Canceled,
}

/// <summary>The end of one attempt.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ProcessorOutcome")]
public sealed record ProcessorOutcome
{
    /// <summary>The job id of the attempt.</summary>
    [Id(0)] public string JobId { get; init; } = "";

    /// <summary>The attempt number.</summary>
    [Id(1)] public int Attempt { get; init; }

    /// <summary>How it ended.</summary>
    [Id(2)] public ProcessorOutcomeKind Kind { get; init; }

    /// <summary>For failures: whether another attempt could succeed (false e.g. for an unknown processor name).</summary>
    [Id(3)] public bool Retryable { get; init; }

    /// <summary>Why it failed or was canceled.</summary>
    [Id(4)] public string? Reason { get; init; }

    /// <summary>The last 64 KiB of output (and the exception), for the error log.</summary>
    [Id(5)] public string Output { get; init; } = "";
}
