using Orleans.CastIron.Events;
using Orleans.CastIron.Files;
using Orleans.CastIron.Processing;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>What a new drop hands to the grain of its renamed key.</summary>
[GenerateSerializer, Immutable, Alias("castiron.AdoptRequest")]
public sealed record AdoptRequest
{
    /// <summary>The new file id.</summary>
    [Id(0)] public string FileId { get; init; } = "";

    /// <summary>The name the file was dropped with.</summary>
    [Id(1)] public string OriginalFilename { get; init; } = "";

    /// <summary>The key it was dropped at.</summary>
    [Id(2)] public string DropKey { get; init; } = "";

    /// <summary>The uploader's user metadata.</summary>
    [Id(3)] public ImmutableDictionary<string, string> Metadata { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Size at drop.</summary>
    [Id(4)] public long? Size { get; init; }

    /// <summary>Content type at drop.</summary>
    [Id(5)] public string? ContentType { get; init; }
}

/// <summary>The answer to a user command (cancel, retry).</summary>
/// <param name="Accepted">Whether the command was carried out.</param>
/// <param name="Message">What happened, or why not.</param>
/// <param name="Status">The file's status afterwards.</param>
[GenerateSerializer, Immutable, Alias("castiron.CommandResult")]
public sealed record CommandResult(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string Message,
    [property: Id(2)] FileStatus? Status);

/// <summary>
/// One object key of the bucket (grain key = <c>bucket/key</c>, the key MinIO uses). For a new drop in a registered
/// inbox it renames the object to <c>&lt;uuid&gt;-&lt;name&gt;</c>; the grain of that renamed key then owns the file
/// for its whole life: match, processing, archive / error / canceled. State is persisted before each side effect
/// and every step is idempotent, so replayed events, restarts and crashes neither lose nor repeat work.
/// </summary>
[Alias("castiron.IFileJobGrain")]
public interface IFileJobGrain : IGrainWithStringKey
{
    /// <summary>A bucket event for this key.</summary>
    [Alias("HandleEvent")]
    Task HandleEventAsync(BucketEvent bucketEvent);

    /// <summary>Takes ownership of a renamed file (called by the drop's grain before it copies).</summary>
    [Alias("Adopt")]
    Task AdoptAsync(AdoptRequest request);

    /// <summary>Moves the file on if it can (match a queued file, resume an interrupted step).</summary>
    [Alias("Resume")]
    Task ResumeAsync();

    /// <summary>The end of a processing attempt.</summary>
    [Alias("ReportOutcome")]
    Task ReportOutcomeAsync(ProcessorOutcome outcome);

    /// <summary>Cancels a queued or running file.</summary>
    [Alias("Cancel")]
    Task<CommandResult> CancelAsync(string? reason);

    /// <summary>Queues a failed or canceled file again.</summary>
    [Alias("Retry")]
    Task<CommandResult> RetryAsync();

    /// <summary>The file's status, or <see langword="null"/> when this key tracks no file.</summary>
    [ReadOnly, AlwaysInterleave, Alias("GetStatus")]
    Task<FileStatusRecord?> GetStatusAsync();
}

/// <summary>Runs processing attempts for one job (grain key = job id) and can stop them.</summary>
[Alias("castiron.IProcessorRunGrain")]
public interface IProcessorRunGrain : IGrainWithStringKey
{
    /// <summary>Starts an attempt in the background; the outcome goes to the FileJob. Starting a running attempt again does nothing.</summary>
    [Alias("Start")]
    Task StartAsync(ProcessorRunRequest request);

    /// <summary>Stops the running attempt, which then reports itself Canceled.</summary>
    [AlwaysInterleave, Alias("Cancel")]
    Task<bool> CancelAsync();

    /// <summary>Whether attempt <paramref name="attempt"/> is running on this activation.</summary>
    [AlwaysInterleave, Alias("IsRunning")]
    Task<bool> IsRunningAsync(int attempt);
}
