using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Files;

/// <summary>What happened to a file job: the inputs of <see cref="FileJobMachine.Decide"/>.</summary>
public abstract record FileJobTrigger;

/// <summary>The object was observed at <paramref name="Key"/> (a drop, a replayed event, a listing).</summary>
/// <param name="FileId">The id the intake derived for it (see <see cref="FileIds"/>).</param>
/// <param name="InboxKey">For a tracked file found outside its inbox with no job state (the state was lost): where it belongs.</param>
public sealed record ObjectSeen(string Bucket, string Key, string FileId, ObjectFacts Facts, string? InboxKey = null) : FileJobTrigger;

/// <summary>The object the current step needs is gone (a stat or a move said so).</summary>
public sealed record ObjectMissing : FileJobTrigger;

/// <summary>The file reached its inbox key.</summary>
public sealed record Arrived : FileJobTrigger;

/// <summary>A registered config takes the file; the interpreter resolved the job's settings and a new job id.</summary>
public sealed record Matched(string ConfigKey, ProcessorConfig Config, string JobId, int MaxAttempts, TimeSpan Timeout) : FileJobTrigger;

/// <summary>No registered config takes the file (yet).</summary>
public sealed record NoMatch : FileJobTrigger;

/// <summary>The processing slot asked for by job <paramref name="JobId"/> is free.</summary>
public sealed record SlotGranted(string JobId) : FileJobTrigger;

/// <summary>An attempt ended.</summary>
public sealed record RunEnded(string JobId, int Attempt, ProcessorOutcomeKind Kind, string? Reason, string Output, bool Retryable) : FileJobTrigger;

/// <summary>Look again (activation, silo start, a config registered, a re-check timer).</summary>
/// <param name="RunAlive">Whether this silo still runs the current attempt (only meaningful in <see cref="Running"/>).</param>
public sealed record Resume(bool RunAlive) : FileJobTrigger;

/// <summary>The lost attempt's file is in its processing folder again (internal to <see cref="FileJobMachine"/>).</summary>
public sealed record Interrupt : FileJobTrigger;

/// <summary>A user cancels the file.</summary>
/// <param name="Owner">For a file no config took yet: the config owning its inbox, whose canceled folder it goes to.</param>
public sealed record Cancel(string Reason, OwnerConfig? Owner) : FileJobTrigger;

/// <summary>A user queues a Failed or Canceled file again.</summary>
/// <param name="Known">The status store's record, for a job whose state expired.</param>
public sealed record Retry(FileStatusRecord? Known) : FileJobTrigger;

/// <summary>The effects of <see cref="Finalizing"/> are done.</summary>
public sealed record Finalized : FileJobTrigger;

/// <summary>What a stat says of an object.</summary>
public sealed record ObjectFacts(long Size, string ETag, string? ContentType, ImmutableDictionary<string, string> Metadata);

/// <summary>The config owning an inbox.</summary>
public sealed record OwnerConfig(string ConfigKey, ProcessorConfig Config);

/// <summary>What a decision asks the interpreter to do, in order. Each is idempotent.</summary>
public abstract record FileJobEffect;

/// <summary>Moves (renames) an object, replacing its metadata. When <paramref name="MissingOk"/> is false, a missing source (and destination) feeds <see cref="ObjectMissing"/>.</summary>
public sealed record MoveObject(string From, string To, ImmutableDictionary<string, string> Metadata, bool MissingOk) : FileJobEffect;

/// <summary>Writes the error log of a failed file.</summary>
public sealed record WriteErrorLog(string Key, string Text, ImmutableDictionary<string, string> Metadata) : FileJobEffect;

/// <summary>Writes the status record to the status store.</summary>
public sealed record WriteStatus(FileStatusRecord Record) : FileJobEffect;

/// <summary>Publishes a job event.</summary>
public sealed record PublishJobEvent(JobEvent Event) : FileJobEffect;

/// <summary>Looks the file up in the registered configs; feeds <see cref="Matched"/> or <see cref="NoMatch"/>.</summary>
public sealed record MatchConfig(string Key, string? ContentType) : FileJobEffect;

/// <summary>Asks for a processing slot (the config's, then the silo's); <see cref="SlotGranted"/> follows.</summary>
public sealed record RequestSlot(string JobId, string ConfigKey, int? ConfigLimit) : FileJobEffect;

/// <summary>Takes the granted slot and runs the attempt; <see cref="RunEnded"/> follows.</summary>
public sealed record StartRun(JobPlan Job, int Attempt, string ObjectKey, ImmutableDictionary<string, string> Metadata) : FileJobEffect;

/// <summary>Stops the running attempt, which then ends <see cref="ProcessorOutcomeKind.Canceled"/>.</summary>
public sealed record CancelRun(string JobId) : FileJobEffect;

/// <summary>Sets the job's one-shot durable timer (replacing any earlier one); <see cref="Resume"/> follows when it fires.</summary>
public sealed record ScheduleWake(DateTimeOffset At) : FileJobEffect;

/// <summary>Removes the job's durable timer.</summary>
public sealed record CancelWake : FileJobEffect;

/// <summary>Clears the persisted state (retention over).</summary>
public sealed record ClearState : FileJobEffect;

/// <summary>A new upload at a key whose id this job already used: hands it to the job of <paramref name="FileId"/>.</summary>
public sealed record ForwardTo(string FileId, ObjectSeen Seen) : FileJobEffect;

/// <summary>The trigger could not be taken; logged with the reason.</summary>
public sealed record Reject(string Reason) : FileJobEffect;

/// <summary>The machine's answer to a trigger.</summary>
/// <param name="State">The new state.</param>
/// <param name="Persist">Persist <paramref name="State"/> before running the effects.</param>
/// <param name="Effects">What to do, in order.</param>
/// <param name="Then">Fed back once every effect succeeded.</param>
/// <param name="Answer">For user commands: whether it was carried out, and what happened.</param>
public sealed record FileJobDecision(
    FileJobState State,
    bool Persist,
    ImmutableArray<FileJobEffect> Effects,
    FileJobTrigger? Then = null,
    CommandAnswer? Answer = null);

/// <summary>The answer to a user command.</summary>
public sealed record CommandAnswer(bool Accepted, string Message);
