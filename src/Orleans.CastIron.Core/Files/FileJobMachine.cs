using Orleans.CastIron.Events;
using Orleans.CastIron.Paths;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Files;

/// <summary>
/// The life of one file as a pure function: <see cref="Decide"/> maps a state and a trigger to a new state and the
/// effects to carry out (data, each idempotent). The FileJob grain only interprets: it persists the new state when
/// asked, runs the effects in order and feeds their results back. Because the persisted state always names the step
/// whose effects may be half done, resuming after a crash repeats those effects and nothing else.
/// </summary>
/// <remarks>
/// Persisted states per successful file: <see cref="Arriving"/>, <see cref="Running"/>, <see cref="Finalizing"/>,
/// <see cref="Final"/>. <see cref="Queued"/> and <see cref="WaitingForSlot"/> are recomputed on resume, so a file
/// waiting in its inbox costs no writes. An attempt counts only when it is handed to a processor; an attempt lost
/// with its silo is run again without counting, up to <see cref="FileJobPolicy.MaxInterruptions"/>.
/// </remarks>
public static class FileJobMachine
{
    /// <summary>When a job waiting for a slot is re-checked without a silo start (a lost request is found at the next start anyway).</summary>
    public static readonly TimeSpan ParkedRecheck = TimeSpan.FromHours(6);

    /// <summary>Decides what <paramref name="trigger"/> does to <paramref name="state"/>.</summary>
    public static FileJobDecision Decide(FileJobState state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(trigger);
        ArgumentNullException.ThrowIfNull(policy);
        return state switch
        {
            NoJob => FromNoJob(trigger, now, policy),
            Arriving a => FromArriving(a, trigger, now),
            Queued q => FromQueued(q, trigger, now),
            WaitingForSlot w => FromWaiting(w, trigger, now, policy),
            Running r => FromRunning(r, trigger, now, policy),
            Backoff b => FromBackoff(b, trigger, now, policy),
            Finalizing f => FromFinalizing(f, trigger, now, policy),
            Final f => FromFinal(f, trigger, now, policy),
            _ => throw new ArgumentException($"unknown state {state.GetType().Name}", nameof(state)),
        };
    }

    /// <summary>True for the states that the machine asks to persist (the others are recomputed on resume).</summary>
    public static bool IsDurable(FileJobState state) => state is NoJob or Arriving or Queued or Running or Backoff or Finalizing or Final;

    /// <summary>
    /// When a persisted state must be looked at again if nothing else happens (a failed step, a lost report, a crash,
    /// a retry due, retention over), or <see langword="null"/> when nothing needs a timer: a queued file in its inbox
    /// is found again by the inbox listing at start. The interpreter writes this one-shot durable timer <em>before</em> the state
    /// (so a crash between the two leaves a timer that finds the older state, never a state nobody wakes) and
    /// removes it after a state that needs none. A timer is removed when it fires; decisions re-arm it when needed.
    /// </summary>
    public static DateTimeOffset? WakeAt(FileJobState state, DateTimeOffset now, FileJobPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(policy);
        return state switch
        {
            // Also for a drop: if a step after its rename fails, nothing else would offer the renamed file again.
            Arriving => now + policy.Recheck,
            Running r => now + r.Job.Timeout + policy.Recheck,
            Backoff b => b.Due,
            Finalizing => now + policy.Recheck,
            Final f => f.FinishedAt + policy.Retention,
            _ => null,
        };
    }

    private static FileJobDecision FromNoJob(FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        switch (trigger)
        {
            case ObjectSeen seen:
                return Take(seen, now);
            case Retry { Known: { } known } retry when FileStatusRules.IsFinal(known.Status):
                return FromFinal(new Final { Record = known, FinishedAt = known.UpdatedAt }, retry, now, policy);
            case Cancel or Retry:
                return Refuse(new NoJob(), "no file is tracked under this id");
            default:
                return Stay(new NoJob());
        }
    }

    /// <summary>A new object: a drop to rename, or an already renamed file whose job state was lost.</summary>
    private static FileJobDecision Take(ObjectSeen seen, DateTimeOffset now)
    {
        if (SkipRules.Route(seen.Key) != EventRoute.DataFile)
        {
            return new(new NoJob(), false, [new Reject($"'{seen.Key}' is not a data file")]);
        }

        var facts = seen.Facts;
        var userMetadata = facts.Metadata.RemoveRange([StageMetadataKeys.Status, StageMetadataKeys.Id, StageMetadataKeys.OriginalFilename]);
        if (FileIds.OfRenamed(seen.Key, facts.Metadata) == seen.FileId)
        {
            if (FileStatusRules.TryParse(facts.Metadata.GetValueOrDefault(StageMetadataKeys.Status), out var stamped) && FileStatusRules.IsFinal(stamped))
            {
                // Ours, and finished: left where its end put it (e.g. canceled before any config took it).
                return Stay(new NoJob());
            }

            var leaf = ObjectKeys.Leaf(seen.Key);
            var original = facts.Metadata.GetValueOrDefault(StageMetadataKeys.OriginalFilename) ?? leaf[(seen.FileId.Length + 1)..];
            if (seen.InboxKey is { } inboxKey && inboxKey != seen.Key)
            {
                // Found in a stage folder with no job state: back to its inbox, and taken again from there.
                var stray = NewRecord(seen, inboxKey, original, userMetadata, now, $"found in '{ObjectKeys.Parent(seen.Key)}' with no job state; queued again");
                var back = new Arriving { Record = stray, FromKey = seen.Key };
                return new(back, true, ArrivalEffects(back), new Arrived());
            }

            var adopted = NewRecord(seen, seen.Key, original, userMetadata, now, "found in its inbox with no job state; taken again");
            return new(new Queued { Record = adopted }, true, [new WriteStatus(adopted), new MatchConfig(adopted.FileName, adopted.ContentType)]);
        }

        if (ObjectKeys.ValidateRenamable(seen.Key) is { } problem)
        {
            return new(new NoJob(), false, [new Reject($"'{seen.Key}' cannot be taken: {problem}")]);
        }

        var renamed = ObjectKeys.Rename(seen.Key, $"{seen.FileId}-{ObjectKeys.Leaf(seen.Key)}");

        var record = NewRecord(seen, renamed, ObjectKeys.Leaf(seen.Key), userMetadata, now, null);
        var arriving = new Arriving { Record = record, FromKey = seen.Key };
        return new(arriving, true, ArrivalEffects(arriving), new Arrived());
    }

    private static FileStatusRecord NewRecord(ObjectSeen seen, string inboxKey, string originalName, ImmutableDictionary<string, string> metadata, DateTimeOffset now, string? reason) => new()
    {
        Id = seen.FileId,
        BucketName = seen.Bucket,
        FileName = inboxKey,
        JobKey = inboxKey,
        Status = FileStatusRules.Initial,
        OriginalFilename = originalName,
        Size = seen.Facts.Size,
        ContentType = seen.Facts.ContentType,
        Metadata = metadata,
        CreatedAt = now,
        UpdatedAt = now,
        Transitions = [new StatusTransition(FileStatusRules.Initial, now, reason)],
    };

    private static ImmutableArray<FileJobEffect> ArrivalEffects(Arriving arriving) =>
        [new MoveObject(arriving.FromKey, arriving.File.JobKey, StageMetadata(arriving.File, null), MissingOk: false), new WriteStatus(arriving.File)];

    private static FileJobDecision FromArriving(Arriving state, FileJobTrigger trigger, DateTimeOffset now)
    {
        var queued = new Queued { Record = state.Record };
        return trigger switch
        {
            Arrived => new(queued, false, [new MatchConfig(state.File.JobKey, state.File.ContentType)]),
            // A drop gone before it was renamed was never taken: nothing to track (its status was not written yet).
            ObjectMissing when IsDrop(state) => new(new NoJob(), false, [new ClearState(), new Reject($"'{state.FromKey}' disappeared before it could be taken")]),
            ObjectMissing => Finalize(state.File, state.FromKey, null, null, FileStatus.Canceled, "the file was removed before it could be taken back", null, now),
            // Finish the arrival first; the cancel then applies to the queued file.
            Cancel cancel => new(queued, false, ArrivalEffects(state), cancel),
            Retry => Refuse(state, "the file is not Failed or Canceled; it is arriving in its inbox"),
            _ => new(state, false, ArrivalEffects(state), new Arrived()),
        };
    }

    /// <summary>A new drop being renamed in its own folder (not a retried file coming back from a stage folder).</summary>
    private static bool IsDrop(Arriving state) => state.File.Transitions.Length == 1 && ObjectKeys.Parent(state.FromKey) == ObjectKeys.Parent(state.File.JobKey);

    private static FileJobDecision FromQueued(Queued state, FileJobTrigger trigger, DateTimeOffset now)
    {
        var record = state.File;
        switch (trigger)
        {
            case Matched m:
                var job = new JobPlan { JobId = m.JobId, ConfigKey = m.ConfigKey, Config = m.Config, MaxAttempts = m.MaxAttempts, Timeout = m.Timeout };
                return new(new WaitingForSlot { Record = record, Job = job }, false, [new RequestSlot(job.JobId, job.ConfigKey, job.Config.MaxConcurrency)]);
            case NoMatch:
                return Stay(state);
            case ObjectSeen or Resume:
                return new(state, false, [new MatchConfig(record.FileName, record.ContentType)]);
            case ObjectMissing:
                return Finalize(record, record.FileName, null, null, FileStatus.Canceled, "the file was removed from the inbox before it was processed", null, now);
            case Cancel cancel:
                var decision = Finalize(record, record.FileName, null, cancel.Owner, FileStatus.Canceled, cancel.Reason, null, now);
                return decision with { Answer = new CommandAnswer(true, "canceled") };
            case Retry:
                return Refuse(state, "only Failed or Canceled files can be retried; this one is Queued");
            default:
                return Stay(state);
        }
    }

    private static FileJobDecision FromWaiting(WaitingForSlot state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        var record = state.File;
        var job = state.Job;
        switch (trigger)
        {
            case SlotGranted granted when granted.JobId == job.JobId:
                var paths = new StagePaths(job.ConfigKey, job.Config);
                var processingKey = paths.Processing(record.JobKey);
                var attempt = record.Attempts + 1;
                var running = (record.Status == FileStatus.Queued ? Transition(record, FileStatus.Processing, null, now) : record with { UpdatedAt = now }) with
                {
                    JobId = job.JobId,
                    ConfigKey = job.ConfigKey,
                    Attempts = attempt,
                    FileName = processingKey,
                    ErrorLogKey = null,
                };
                var metadata = StageMetadata(running, FileStatus.Processing);
                var effects = ImmutableArray.CreateBuilder<FileJobEffect>();
                effects.Add(new MoveObject(record.FileName, processingKey, metadata, MissingOk: false));
                if (!job.Announced)
                {
                    // Published after the move, so a failed move leaves no orphan job (the seed published before).
                    var uploader = record.Metadata.GetValueOrDefault("owner_dn") is { Length: > 0 } owner ? owner : StageMetadataKeys.DefaultUploader;
                    effects.Add(new PublishJobEvent(JobEvent.Created(job.JobId, ObjectKeys.Leaf(record.JobKey), ObjectKeys.Leaf(job.ConfigKey), uploader)));
                }

                effects.Add(new WriteStatus(running));
                // Last: every step that can fail is done before the attempt is handed to the processor.
                effects.Add(new StartRun(job with { Announced = true }, attempt, processingKey, metadata));
                return new(new Running { Record = running, Job = job with { Announced = true }, FromKey = record.FileName }, true, effects.ToImmutable());
            case Cancel cancel:
                return Finalize(record, record.FileName, job, null, FileStatus.Canceled, cancel.Reason, null, now) with { Answer = new CommandAnswer(true, "canceled before it started") };
            case ObjectMissing:
                return Finalize(record, record.FileName, job, null, FileStatus.Canceled, "the file was removed before it was processed", null, now);
            case Resume or ObjectSeen:
                // A retry waits in the processing folder, where no inbox listing finds it: keep its timer armed.
                return record.Status == FileStatus.Processing
                    ? new(state, false, [new ScheduleWake(now + ParkedRecheck), new RequestSlot(job.JobId, job.ConfigKey, job.Config.MaxConcurrency)])
                    : new(state, false, [new RequestSlot(job.JobId, job.ConfigKey, job.Config.MaxConcurrency)]);
            case Retry:
                return Refuse(state, $"only Failed or Canceled files can be retried; this one is {record.Status}");
            default:
                return Stay(state);
        }
    }

    private static FileJobDecision FromRunning(Running state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        var record = state.File;
        var job = state.Job;
        switch (trigger)
        {
            case RunEnded ended when ended.JobId == job.JobId && ended.Attempt == record.Attempts:
                return Ended(state, ended, now, policy);
            case Resume { RunAlive: true }:
                return new(state, false, [new ScheduleWake(now + job.Timeout + policy.Recheck)]);
            case Resume:
                // Whether the move to processing happened before the silo went is unknown: repeat it (idempotent).
                return new(state, false, [new MoveObject(state.FromKey, record.FileName, StageMetadata(record, FileStatus.Processing), MissingOk: false)], new Interrupt());
            case Interrupt:
                return Interrupted(state, now, policy);
            case Cancel when job.CancelRequested:
                return new(state, false, [], null, new CommandAnswer(true, "cancel already requested; the processor is being stopped"));
            case Cancel:
                return new(state with { Job = job with { CancelRequested = true } }, true, [new CancelRun(job.JobId)], null, new CommandAnswer(true, "cancel requested; the processor is being stopped"));
            case ObjectMissing:
                // The move to processing found nothing: the attempt never started.
                var notStarted = record with { Attempts = record.Attempts - 1 };
                return Finalize(notStarted, record.FileName, job, null, FileStatus.Canceled, "the file was removed before it was processed", null, now);
            case Retry:
                return Refuse(state, "only Failed or Canceled files can be retried; this one is Processing");
            default:
                return Stay(state);
        }
    }

    private static FileJobDecision Ended(Running state, RunEnded ended, DateTimeOffset now, FileJobPolicy policy)
    {
        var record = state.File;
        var job = state.Job;
        switch (ended.Kind)
        {
            case ProcessorOutcomeKind.Succeeded:
                return Finalize(record, record.FileName, job, null, FileStatus.Complete, null, null, now);
            case ProcessorOutcomeKind.Canceled:
                return Finalize(record, record.FileName, job, null, FileStatus.Canceled, ended.Reason ?? "canceled by a user", ended.Output, now);
            case ProcessorOutcomeKind.Failed when job.CancelRequested:
                return Finalize(record, record.FileName, job, null, FileStatus.Canceled, "canceled by a user", ended.Output, now);
            case ProcessorOutcomeKind.Failed when ended.Retryable && record.Attempts < job.MaxAttempts:
                var due = now + policy.RetryDelay(record.Attempts + 1);
                var waiting = record with { Reason = ended.Reason, UpdatedAt = now };
                return new(new Backoff { Record = waiting, Job = job, Due = due }, true, []);
            default:
                var reason = ended.Reason ?? "the processor failed";
                return Finalize(record, record.FileName, job, null, FileStatus.Failed, record.Attempts > 1 ? $"{reason} (after {record.Attempts} attempts)" : reason, ended.Output, now);
        }
    }

    /// <summary>The running attempt is gone with its silo: run it again, uncounted, unless a cancel was asked or the file keeps killing silos.</summary>
    private static FileJobDecision Interrupted(Running state, DateTimeOffset now, FileJobPolicy policy)
    {
        var job = state.Job;
        // The lost attempt does not count as one.
        var lost = state.File with { Attempts = state.File.Attempts - 1, Interruptions = state.File.Interruptions + 1, UpdatedAt = now };
        if (job.CancelRequested)
        {
            return Finalize(lost, lost.FileName, job, null, FileStatus.Canceled, "canceled by a user", null, now);
        }

        if (lost.Interruptions > policy.MaxInterruptions)
        {
            return Finalize(lost, lost.FileName, job, null, FileStatus.Failed, $"processing was interrupted {lost.Interruptions} times (silo stops or crashes); giving up", null, now);
        }

        // The status store learns that the attempt it was shown did not count (a rare write: only after a crash).
        return new(new Backoff { Record = lost, Job = job, Due = now }, true, [new WriteStatus(lost)], new Resume(false));
    }

    private static FileJobDecision FromBackoff(Backoff state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        var record = state.File;
        var job = state.Job;
        switch (trigger)
        {
            case Resume when now >= state.Due:
                return new(new WaitingForSlot { Record = record, Job = job }, false, [new ScheduleWake(now + ParkedRecheck), new RequestSlot(job.JobId, job.ConfigKey, job.Config.MaxConcurrency)]);
            case Resume:
                return new(state, false, [new ScheduleWake(state.Due)]);
            case Cancel cancel:
                return Finalize(record, record.FileName, job, null, FileStatus.Canceled, cancel.Reason, null, now) with { Answer = new CommandAnswer(true, "canceled while waiting to retry") };
            case Retry:
                return Refuse(state, "only Failed or Canceled files can be retried; this one is Processing");
            default:
                return Stay(state);
        }
    }

    private static FileJobDecision FromFinalizing(Finalizing state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy) => trigger switch
    {
        Finalized => new(new Final { Record = state.Record, FinishedAt = now }, true, []),
        Resume or ObjectSeen => new(state, false, FinalizingEffects(state), new Finalized()),
        Cancel when state.Status == FileStatus.Canceled => new(state, false, [], null, new CommandAnswer(true, "already being canceled")),
        Cancel or Retry => Refuse(state, $"the file is already {state.Status}"),
        _ => Stay(state),
    };

    private static FileJobDecision FromFinal(Final state, FileJobTrigger trigger, DateTimeOffset now, FileJobPolicy policy)
    {
        var record = state.File;
        switch (trigger)
        {
            case Resume when now >= state.FinishedAt + policy.Retention:
                return new(new NoJob(), false, [new ClearState()]);
            case Resume:
                return new(state, false, [new ScheduleWake(state.FinishedAt + policy.Retention)]);
            case Retry when FileStatusRules.CanRetry(record.Status):
                var queued = Transition(record, FileStatus.Queued, "retried by a user", now) with
                {
                    FileName = record.JobKey,
                    JobId = null,
                    ConfigKey = null,
                    Attempts = 0,
                    Interruptions = 0,
                    ErrorLogKey = null,
                };
                var arriving = new Arriving { Record = queued, FromKey = record.FileName };
                return new(arriving, true, ArrivalEffects(arriving), new Arrived(), new CommandAnswer(true, "queued again"));
            case Retry:
                return Refuse(state, $"only Failed or Canceled files can be retried; this one is {record.Status}");
            case Cancel:
                return Refuse(state, $"a {record.Status} file cannot be canceled");
            case ObjectSeen seen when FileIds.OfRenamed(seen.Key, seen.Facts.Metadata) is null:
                // The drop key holds a new upload that this id cannot tell from the one already processed.
                var next = FileIds.Successor(record.Id);
                return new(state, false, [new ForwardTo(next, seen with { FileId = next })]);
            default:
                return Stay(state);
        }
    }

    /// <summary>Decides the end: the destination, error log, final record; the effects follow from the state.</summary>
    private static FileJobDecision Finalize(FileStatusRecord record, string fromKey, JobPlan? job, OwnerConfig? owner, FileStatus status, string? reason, string? output, DateTimeOffset now)
    {
        var configKey = job?.ConfigKey ?? owner?.ConfigKey;
        var config = job?.Config ?? owner?.Config;
        var paths = configKey is null || config is null ? null : new StagePaths(configKey, config);
        var destination = status switch
        {
            FileStatus.Complete => paths?.Archive(record.JobKey),
            FileStatus.Failed => paths?.Error(record.JobKey),
            _ => paths?.Canceled(record.JobKey),
        } ?? fromKey; // no archive_dir (or no config): the file stays where it is, with its final status

        var errorLog = status == FileStatus.Failed && paths is not null && config!.SaveErrorLog ? paths.ErrorLog(record.JobKey) : null;
        var final = Transition(record, status, reason, now) with
        {
            FileName = destination,
            ConfigKey = configKey ?? record.ConfigKey,
            ErrorLogKey = errorLog ?? record.ErrorLogKey,
        };
        var finalizing = new Finalizing
        {
            Record = final,
            Status = status,
            Reason = reason,
            FromKey = fromKey,
            Destination = destination,
            ErrorLogKey = errorLog,
            ErrorLogText = errorLog is null ? null : ErrorLogText(final, reason, output),
        };
        return new(finalizing, true, FinalizingEffects(finalizing), new Finalized());
    }

    private static ImmutableArray<FileJobEffect> FinalizingEffects(Finalizing state)
    {
        var record = state.File;
        var metadata = StageMetadata(record, state.Status);
        var effects = ImmutableArray.CreateBuilder<FileJobEffect>();
        if (state.ErrorLogKey is { } log)
        {
            effects.Add(new WriteErrorLog(log, state.ErrorLogText ?? "", metadata));
        }

        // Someone may have removed the file from under us: the status still ends.
        effects.Add(new MoveObject(state.FromKey, state.Destination, metadata, MissingOk: true));
        effects.Add(new WriteStatus(record));
        if (record.JobId is { } jobId && FileStatusRules.ToJobEventStatus(state.Status) is { } jobStatus)
        {
            effects.Add(new PublishJobEvent(JobEvent.StatusUpdate(jobId, jobStatus)));
        }

        return effects.ToImmutable();
    }

    /// <summary>The metadata a file carries through its stages: the uploader's, plus <c>originalfilename</c>, <c>id</c> and (seed compatibility) <c>status</c>.</summary>
    public static ImmutableDictionary<string, string> StageMetadata(FileStatusRecord record, FileStatus? status)
    {
        ArgumentNullException.ThrowIfNull(record);
        var metadata = record.Metadata
            .SetItem(StageMetadataKeys.OriginalFilename, record.OriginalFilename)
            .SetItem(StageMetadataKeys.Id, record.Id);
        return status is { } s ? metadata.SetItem(StageMetadataKeys.Status, FileStatusRules.ToWire(s)) : metadata.Remove(StageMetadataKeys.Status);
    }

    /// <summary>The text of a failed file's error log.</summary>
    public static string ErrorLogText(FileStatusRecord record, string? reason, string? output)
    {
        ArgumentNullException.ThrowIfNull(record);
        return $"""
            Cast Iron error log
            file id:           {record.Id}
            original filename: {record.OriginalFilename}
            job id:            {record.JobId}
            config:            {record.ConfigKey}
            attempts:          {record.Attempts}
            reason:            {reason}
            --- processor output (last 64 KiB) ---
            {output}
            """;
    }

    private static FileStatusRecord Transition(FileStatusRecord record, FileStatus to, string? reason, DateTimeOffset now)
    {
        FileStatusRules.EnsureTransition(record.Status, to);
        return record with { Status = to, Reason = reason, UpdatedAt = now, Transitions = record.Transitions.Add(new StatusTransition(to, now, reason)) };
    }

    private static FileJobDecision Stay(FileJobState state) => new(state, false, []);

    private static FileJobDecision Refuse(FileJobState state, string message) => new(state, false, [], null, new CommandAnswer(false, message));
}

/// <summary>Metadata keys and constants of stage moves (the seed's names).</summary>
public static class StageMetadataKeys
{
    /// <summary>The file's status on stage moves (seed compatibility; never trusted).</summary>
    public const string Status = "status";

    /// <summary>The name the file was dropped with.</summary>
    public const string OriginalFilename = "originalfilename";

    /// <summary>The file id.</summary>
    public const string Id = FileIds.IdMetadata;

    /// <summary>The <c>job_created</c> uploader when the file names no owner (the seed's constant).</summary>
    public const string DefaultUploader = "castiron";
}
