using Orleans.CastIron.Events;
using Orleans.CastIron.Files;
using Orleans.CastIron.Processing;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

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
/// One file, for its whole life (grain key = the file id, derived from the drop's bucket, key and version, so every
/// event of one upload reaches the same job and a new upload is a new one). It renames the drop to
/// <c>&lt;id&gt;-&lt;name&gt;</c>, matches it, runs its attempts and ends it archived, failed or canceled. The grain only
/// interprets the pure <c>FileJobMachine</c>: it persists the state the machine asks for, carries out its effects and
/// feeds their results back.
/// </summary>
[Alias("castiron.IFileJobGrain")]
public interface IFileJobGrain : IGrainWithStringKey
{
    /// <summary>The object was seen (a bucket event or a listing); a hint, checked against the object itself.</summary>
    [Alias("ObjectSeen")]
    Task ObjectSeenAsync(BucketEvent bucketEvent);

    /// <summary>A new upload that the finished job <paramref name="predecessor"/> could not tell from its own (same key and version): this job takes it.</summary>
    [Alias("Forwarded")]
    Task ForwardedAsync(BucketEvent bucketEvent, string predecessor);

    /// <summary>An object of this file was removed (a hint: the job checks).</summary>
    [Alias("ObjectRemoved")]
    Task ObjectRemovedAsync(string key);

    /// <summary>Looks again: a config was registered, the silo started, or the job's timer fired.</summary>
    [Alias("Resume")]
    Task ResumeAsync();

    /// <summary>The processing slot the job asked for is free: returns the attempt to run, or null when the job no longer wants it.</summary>
    [Alias("SlotGranted")]
    Task<ProcessorRunRequest?> SlotGrantedAsync(string jobId);

    /// <summary>The end of a processing attempt.</summary>
    [Alias("RunEnded")]
    Task RunEndedAsync(ProcessorOutcome outcome);

    /// <summary>Cancels a queued or running file.</summary>
    [Alias("Cancel")]
    Task<CommandResult> CancelAsync(string? reason);

    /// <summary>Queues a failed or canceled file again.</summary>
    [Alias("Retry")]
    Task<CommandResult> RetryAsync(FileStatusRecord? known);

    /// <summary>The file's status, or <see langword="null"/> when this id tracks no file (or its retention ended).</summary>
    [ReadOnly, AlwaysInterleave, Alias("GetStatus")]
    Task<FileStatusRecord?> GetStatusAsync();
}
