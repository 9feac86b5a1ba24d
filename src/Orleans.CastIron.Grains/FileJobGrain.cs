using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains.State;
using Orleans.CastIron.Processing;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>
/// See <see cref="IFileJobGrain"/>. A state machine over persisted <see cref="FileJobState"/>; every side effect is
/// preceded by persisting the step that performs it and is idempotent, so resuming a step simply repeats it.
/// </summary>
internal sealed partial class FileJobGrain(
    [PersistentState("filejob", CastIronNames.GrainStorage)] IPersistentState<FileJobState> state,
    IObjectStore store,
    IFileStatusStore statusStore,
    IJobEventSink jobEvents,
    IOptions<ProcessingOptions> processingOptions,
    TimeProvider time,
    ILogger<FileJobGrain> logger) : Grain, IFileJobGrain
{
    private IGrainTimer? _backoffTimer;

    private FileJobState S => state.State;

    private string Bucket => GrainKey[..GrainKey.IndexOf('/', StringComparison.Ordinal)];

    /// <summary>The object key this grain stands for (for a job: the renamed key in the inbox).</summary>
    private string Key => GrainKey[(GrainKey.IndexOf('/', StringComparison.Ordinal) + 1)..];

    private string GrainKey => this.GetPrimaryKeyString();

    private IProcessorRegistryGrain Registry => GrainFactory.GetGrain<IProcessorRegistryGrain>(Bucket);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (GrainKey.IndexOf('/', StringComparison.Ordinal) <= 0 || ObjectKeys.Validate(Key) is not null)
        {
            throw new ArgumentException($"'{GrainKey}' is not a valid 'bucket/key' FileJob key");
        }

        if (S.Step == FileJobStep.Backoff)
        {
            ScheduleBackoff();
        }

        return Task.CompletedTask;
    }

    async Task IFileJobGrain.HandleEventAsync(BucketEvent bucketEvent)
    {
        using var scope = BeginScope();
        if (bucketEvent.Kind == BucketEventKind.Removed)
        {
            if (S.Role == FileJobRole.Job && S.Record!.Status == FileStatus.Queued && S.Step == FileJobStep.None
                && await store.StatAsync(Bucket, Key) is null)
            {
                await FinalizeAsync(FileStatus.Canceled, "the file was removed from the inbox", null);
            }

            return;
        }

        await ResumeAsync();
    }

    async Task IFileJobGrain.AdoptAsync(AdoptRequest request)
    {
        using var scope = BeginScope();
        if (S.Role == FileJobRole.Job)
        {
            if (S.FileId != request.FileId)
            {
                LogAdoptConflict(Key, S.FileId, request.FileId);
            }

            return;
        }

        var now = time.GetUtcNow();
        S.Role = FileJobRole.Job;
        S.FileId = request.FileId;
        S.Step = FileJobStep.Arriving;
        S.Record = new FileStatusRecord
        {
            Id = request.FileId,
            BucketName = Bucket,
            FileName = Key,
            Status = FileStatusRules.Initial,
            OriginalFilename = request.OriginalFilename,
            JobKey = GrainKey,
            Size = request.Size,
            ContentType = request.ContentType,
            Metadata = request.Metadata,
            CreatedAt = now,
            UpdatedAt = now,
            Transitions = [new StatusTransition(FileStatusRules.Initial, now)],
        };
        await state.WriteStateAsync();
        await statusStore.UpsertAsync(S.Record);
        LogQueued(Key, request.FileId, request.OriginalFilename);
    }

    Task IFileJobGrain.ResumeAsync()
    {
        using var scope = BeginScope();
        return ResumeAsync();
    }

    async Task IFileJobGrain.ReportOutcomeAsync(ProcessorOutcome outcome)
    {
        using var scope = BeginScope();
        if (S.Role != FileJobRole.Job || S.Step != FileJobStep.Running || outcome.JobId != S.Record!.JobId || outcome.Attempt != S.Record.Attempts)
        {
            // A late report of an attempt this job has moved past (e.g. after a restart re-ran it).
            LogStaleOutcome(Key, outcome.JobId, outcome.Attempt);
            return;
        }

        switch (outcome.Kind)
        {
            case ProcessorOutcomeKind.Succeeded:
                await FinalizeAsync(FileStatus.Complete, null, null);
                break;
            case ProcessorOutcomeKind.Canceled:
                await FinalizeAsync(FileStatus.Canceled, outcome.Reason ?? "canceled by a user", outcome.Output);
                break;
            case ProcessorOutcomeKind.Failed when S.CancelRequested:
                await FinalizeAsync(FileStatus.Canceled, "canceled by a user", outcome.Output);
                break;
            case ProcessorOutcomeKind.Failed when outcome.Retryable && S.Record.Attempts < S.MaxAttempts:
                var delay = processingOptions.Value.RetryDelay(S.Record.Attempts + 1);
                S.Step = FileJobStep.Backoff;
                S.NextAttemptAt = time.GetUtcNow() + delay;
                S.Record = S.Record with { Reason = outcome.Reason, UpdatedAt = time.GetUtcNow() };
                await state.WriteStateAsync();
                LogRetrying(Key, S.Record.JobId!, S.Record.Attempts, S.MaxAttempts, delay, outcome.Reason);
                ScheduleBackoff();
                break;
            default:
                var attempts = S.Record.Attempts;
                var reason = attempts > 1 ? $"{outcome.Reason} (after {attempts} attempts)" : outcome.Reason;
                await FinalizeAsync(FileStatus.Failed, reason ?? "the processor failed", outcome.Output);
                break;
        }
    }

    async Task<CommandResult> IFileJobGrain.CancelAsync(string? reason)
    {
        using var scope = BeginScope();
        if (S.Role != FileJobRole.Job)
        {
            return new CommandResult(false, $"no file is tracked under '{Key}'", null);
        }

        var why = string.IsNullOrWhiteSpace(reason) ? "canceled by a user" : reason;
        var status = S.Record!.Status;
        switch (status, S.Step)
        {
            case (FileStatus.Queued, FileJobStep.None or FileJobStep.Arriving):
                if (S.Config is null && await Registry.InboxOwnerAsync(Key) is { Config: { } ownerConfig } owner)
                {
                    // The canceled folder of the config owning the inbox, though none matched the file yet.
                    S.Config = ownerConfig;
                    S.Record = S.Record with { ConfigKey = owner.ConfigKey };
                }

                await FinalizeAsync(FileStatus.Canceled, why, null);
                return new CommandResult(true, "canceled", S.Record.Status);
            case (FileStatus.Processing, FileJobStep.MovingToProcessing):
                await MoveToProcessingAsync();
                await FinalizeAsync(FileStatus.Canceled, why, null);
                return new CommandResult(true, "canceled before it started", S.Record.Status);
            case (FileStatus.Processing, FileJobStep.Backoff):
                _backoffTimer?.Dispose();
                await FinalizeAsync(FileStatus.Canceled, why, null);
                return new CommandResult(true, "canceled while waiting to retry", S.Record.Status);
            case (FileStatus.Processing, FileJobStep.Running):
                S.CancelRequested = true;
                await state.WriteStateAsync();
                if (!await RunGrain().CancelAsync())
                {
                    // Nothing runs any more (its silo is gone): the cancel completes here.
                    await FinalizeAsync(FileStatus.Canceled, why, null);
                    return new CommandResult(true, "canceled", S.Record.Status);
                }

                return new CommandResult(true, "cancel requested; the processor is being stopped", S.Record.Status);
            default:
                return new CommandResult(false, $"a {status} file cannot be canceled", status);
        }
    }

    async Task<CommandResult> IFileJobGrain.RetryAsync()
    {
        using var scope = BeginScope();
        if (S.Role != FileJobRole.Job)
        {
            return new CommandResult(false, $"no file is tracked under '{Key}'", null);
        }

        if (S.Step != FileJobStep.None || !FileStatusRules.CanRetry(S.Record!.Status))
        {
            return new CommandResult(false, $"only Failed or Canceled files can be retried; this one is {S.Record!.Status}", S.Record.Status);
        }

        if (await store.StatAsync(Bucket, S.Record.FileName) is null && await store.StatAsync(Bucket, Key) is null)
        {
            return new CommandResult(false, $"the file is gone from '{S.Record.FileName}'", S.Record.Status);
        }

        S.Step = FileJobStep.Requeueing;
        S.TargetKey = Key;
        await state.WriteStateAsync();
        await RequeueAsync();
        await ResumeAsync();
        return new CommandResult(true, "queued again", S.Record.Status);
    }

    Task<FileStatusRecord?> IFileJobGrain.GetStatusAsync() => Task.FromResult(S.Role == FileJobRole.Job ? S.Record : null);

    private async Task ResumeAsync()
    {
        switch (S.Role, S.Step)
        {
            case (FileJobRole.None or FileJobRole.Drop, _):
                await HandleDropAsync();
                break;
            case (FileJobRole.Job, FileJobStep.None) when S.Record!.Status == FileStatus.Queued:
                await TryDispatchAsync();
                break;
            case (FileJobRole.Job, FileJobStep.Arriving):
                // Until the copy lands, only the drop's grain knows how the rename went; it resumes or cancels us.
                if (await store.StatAsync(Bucket, Key) is not null)
                {
                    S.Step = FileJobStep.None;
                    await state.WriteStateAsync();
                    await TryDispatchAsync();
                }

                break;
            case (FileJobRole.Job, FileJobStep.MovingToProcessing):
                await MoveToProcessingAsync();
                await StartAttemptAsync();
                break;
            case (FileJobRole.Job, FileJobStep.Running):
                if (!await RunGrain().IsRunningAsync(S.Record!.Attempts))
                {
                    // The attempt died with its silo: this counts as an attempt, and the next one starts now.
                    LogAttemptLost(Key, S.Record.JobId!, S.Record.Attempts);
                    if (S.Record.Attempts >= S.MaxAttempts)
                    {
                        await FinalizeAsync(FileStatus.Failed, $"processing was interrupted (silo restart or crash) {S.Record.Attempts} time(s)", null);
                    }
                    else
                    {
                        await StartAttemptAsync();
                    }
                }

                break;
            case (FileJobRole.Job, FileJobStep.Backoff):
                if (S.NextAttemptAt <= time.GetUtcNow())
                {
                    await StartAttemptAsync();
                }
                else
                {
                    ScheduleBackoff();
                }

                break;
            case (FileJobRole.Job, FileJobStep.Finalizing):
                await CompleteFinalizeAsync();
                break;
            case (FileJobRole.Job, FileJobStep.Requeueing):
                await RequeueAsync();
                await TryDispatchAsync();
                break;
        }
    }

    /// <summary>A user's drop: rename it to <c>&lt;uuid&gt;-&lt;name&gt;</c> and hand it to that key's grain.</summary>
    private async Task HandleDropAsync()
    {
        if (S.Step != FileJobStep.Renaming)
        {
            var info = await store.StatAsync(Bucket, Key);
            if (info is null || SkipRules.Route(Key) != EventRoute.DataFile)
            {
                // Already renamed (a replayed event) or never ours.
                return;
            }

            if (await Registry.InboxOwnerAsync(Key) is null)
            {
                // Files outside registered inboxes are left alone (seed bug B-09 renamed everything).
                return;
            }

            var fileId = Guid.NewGuid().ToString();
            var renamed = ObjectKeys.Rename(Key, $"{fileId}-{ObjectKeys.Leaf(Key)}");
            if (ObjectKeys.Validate(renamed) is { } problem)
            {
                LogCannotRename(Key, problem);
                return;
            }

            S.Role = FileJobRole.Drop;
            S.Step = FileJobStep.Renaming;
            S.FileId = fileId;
            S.RenamedKey = renamed;
            S.DropETag = info.ETag;
            S.Drop = new AdoptRequest
            {
                FileId = fileId,
                OriginalFilename = ObjectKeys.Leaf(Key),
                DropKey = Key,
                Metadata = info.Metadata.RemoveRange([CastIronNames.StatusMetadata, CastIronNames.IdMetadata, CastIronNames.OriginalFilenameMetadata]),
                Size = info.Size,
                ContentType = info.ContentType,
            };
            await state.WriteStateAsync();
            LogRenaming(Key, renamed);
        }

        var target = GrainFactory.GetGrain<IFileJobGrain>($"{Bucket}/{S.RenamedKey}");
        await target.AdoptAsync(S.Drop!);
        var metadata = S.Drop!.Metadata
            .SetItem(CastIronNames.OriginalFilenameMetadata, S.Drop.OriginalFilename)
            .SetItem(CastIronNames.IdMetadata, S.Drop.FileId);
        try
        {
            await store.MoveAsync(Bucket, Key, S.RenamedKey!, metadata);
        }
        catch (ObjectNotFoundException)
        {
            // The user deleted the drop before it was copied: nothing to process, and the record says why.
            LogDropVanished(Key);
            S.Step = FileJobStep.None;
            await state.WriteStateAsync();
            await target.CancelAsync("the file was removed before it could be taken");
            return;
        }

        S.Step = FileJobStep.None;
        await state.WriteStateAsync();
        await target.ResumeAsync();
    }

    private async Task TryDispatchAsync()
    {
        var info = await store.StatAsync(Bucket, Key);
        if (info is null)
        {
            await FinalizeAsync(FileStatus.Canceled, "the file was removed from the inbox before it was processed", null);
            return;
        }

        var match = await Registry.MatchAsync(Key, info.ContentType);
        if (match?.Config is null)
        {
            LogNoMatch(Key);
            return;
        }

        var config = match.Config;
        var paths = new StagePaths(match.ConfigKey, config);
        S.Step = FileJobStep.MovingToProcessing;
        S.Config = config;
        S.TargetKey = paths.Processing(Key);
        S.MaxAttempts = config.MaxAttempts ?? processingOptions.Value.DefaultMaxAttempts;
        S.CancelRequested = false;
        S.Record = Transition(S.Record!, FileStatus.Processing, null) with
        {
            JobId = NewJobId(),
            ConfigKey = match.ConfigKey,
            Attempts = 0,
            Reason = null,
            ErrorLogKey = null,
        };
        await state.WriteStateAsync();
        LogMatched(Key, match.ConfigKey, S.Record.JobId!);
        await MoveToProcessingAsync();
        await StartAttemptAsync();
    }

    private async Task MoveToProcessingAsync()
    {
        var record = S.Record!;
        await store.MoveAsync(Bucket, record.FileName, S.TargetKey!, StageMetadata(FileStatus.Processing));
        var uploader = record.Metadata.GetValueOrDefault("owner_dn") is { Length: > 0 } owner ? owner : CastIronNames.DefaultUploader;
        // Published after the move, so a failed move leaves no orphan job (seed F-13 published before).
        await jobEvents.PublishAsync(JobEvent.Created(record.JobId!, ObjectKeys.Leaf(Key), ObjectKeys.Leaf(record.ConfigKey!), uploader));
        S.Record = record with { FileName = S.TargetKey!, UpdatedAt = time.GetUtcNow() };
        await statusStore.UpsertAsync(S.Record);
    }

    private async Task StartAttemptAsync()
    {
        S.Step = FileJobStep.Running;
        S.NextAttemptAt = null;
        S.Record = S.Record! with { Attempts = S.Record.Attempts + 1, UpdatedAt = time.GetUtcNow() };
        await state.WriteStateAsync();
        await statusStore.UpsertAsync(S.Record);
        var options = processingOptions.Value;
        await RunGrain().StartAsync(new ProcessorRunRequest
        {
            Bucket = Bucket,
            FileJobKey = GrainKey,
            FileId = S.FileId!,
            JobId = S.Record.JobId!,
            Attempt = S.Record.Attempts,
            ObjectKey = S.Record.FileName,
            OriginalFilename = S.Record.OriginalFilename,
            ConfigKey = S.Record.ConfigKey!,
            Config = S.Config!,
            Metadata = StageMetadata(FileStatus.Processing),
            Timeout = S.Config!.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : options.DefaultTimeout,
        });
    }

    private void ScheduleBackoff()
    {
        _backoffTimer?.Dispose();
        var due = S.NextAttemptAt is { } at ? at - time.GetUtcNow() : TimeSpan.Zero;
        _backoffTimer = this.RegisterGrainTimer(
            async _ =>
            {
                _backoffTimer?.Dispose();
                _backoffTimer = null;
                if (S.Step == FileJobStep.Backoff)
                {
                    using var scope = BeginScope();
                    await StartAttemptAsync();
                }
            },
            new GrainTimerCreationOptions { DueTime = due < TimeSpan.Zero ? TimeSpan.Zero : due, Period = Timeout.InfiniteTimeSpan, KeepAlive = true });
    }

    private async Task FinalizeAsync(FileStatus status, string? reason, string? output)
    {
        S.Step = FileJobStep.Finalizing;
        S.FinalStatus = status;
        S.FinalReason = reason;
        S.FinalOutput = output;
        await state.WriteStateAsync();
        await CompleteFinalizeAsync();
    }

    /// <summary>Move to the final folder, write the error log, record and publish. Repeatable.</summary>
    private async Task CompleteFinalizeAsync()
    {
        var status = S.FinalStatus!.Value;
        var record = S.Record!;
        var paths = S.Config is null || record.ConfigKey is null ? null : new StagePaths(record.ConfigKey, S.Config);
        var destination = status switch
        {
            FileStatus.Complete => paths?.Archive(Key),
            FileStatus.Failed => paths?.Error(Key),
            _ => paths?.Canceled(Key),
        } ?? record.FileName; // no archive_dir (or no config): the file stays where it is, with its final status

        string? errorLog = null;
        if (status == FileStatus.Failed && paths is not null && S.Config!.SaveErrorLog)
        {
            errorLog = paths.ErrorLog(Key);
            await store.WriteTextAsync(Bucket, errorLog, ErrorLogText(record, S.FinalReason, S.FinalOutput), StageMetadata(status));
        }

        try
        {
            await store.MoveAsync(Bucket, record.FileName, destination, StageMetadata(status));
        }
        catch (ObjectNotFoundException)
        {
            // Someone removed it from under us: the status still ends, and says where it was last seen.
            LogFileVanished(record.FileName);
        }

        var final = Transition(record, status, S.FinalReason) with { FileName = destination, ErrorLogKey = errorLog ?? record.ErrorLogKey };
        await statusStore.UpsertAsync(final);
        if (final.JobId is not null && FileStatusRules.ToJobEventStatus(status) is { } jobStatus)
        {
            await jobEvents.PublishAsync(JobEvent.StatusUpdate(final.JobId, jobStatus));
        }

        S.Record = final;
        S.Step = FileJobStep.None;
        S.FinalStatus = null;
        S.FinalOutput = null;
        S.CancelRequested = false;
        await state.WriteStateAsync();
        LogFinished(Key, final.Id, status, S.FinalReason);
        S.FinalReason = null;
    }

    private async Task RequeueAsync()
    {
        var record = S.Record!;
        if (await store.StatAsync(Bucket, record.FileName) is not null)
        {
            await store.MoveAsync(Bucket, record.FileName, Key, StageMetadata(null));
        }

        S.Record = Transition(record, FileStatus.Queued, "retried by a user") with { FileName = Key, JobId = null, Attempts = 0, ConfigKey = null, ErrorLogKey = null };
        S.Config = null;
        S.Step = FileJobStep.None;
        await state.WriteStateAsync();
        await statusStore.UpsertAsync(S.Record);
    }

    private FileStatusRecord Transition(FileStatusRecord record, FileStatus to, string? reason)
    {
        FileStatusRules.EnsureTransition(record.Status, to);
        var now = time.GetUtcNow();
        return record with { Status = to, Reason = reason, UpdatedAt = now, Transitions = record.Transitions.Add(new StatusTransition(to, now, reason)) };
    }

    private ImmutableDictionary<string, string> StageMetadata(FileStatus? status)
    {
        var metadata = S.Record!.Metadata
            .SetItem(CastIronNames.OriginalFilenameMetadata, S.Record.OriginalFilename)
            .SetItem(CastIronNames.IdMetadata, S.Record.Id);
        return status is { } s ? metadata.SetItem(CastIronNames.StatusMetadata, FileStatusRules.ToWire(s)) : metadata.Remove(CastIronNames.StatusMetadata);
    }

    private static string ErrorLogText(FileStatusRecord record, string? reason, string? output) =>
        $"""
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

    private IProcessorRunGrain RunGrain() => GrainFactory.GetGrain<IProcessorRunGrain>(S.Record!.JobId!);

    /// <summary>22 URL-safe characters from 16 random bytes (the seed used standard base64, with '+' and '/').</summary>
    private static string NewJobId() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private IDisposable? BeginScope() =>
        logger.BeginScope(new Dictionary<string, object?> { ["ObjectKey"] = GrainKey, ["FileId"] = S.FileId, ["JobId"] = S.Record?.JobId });

    [LoggerMessage(1, LogLevel.Information, "New file drop '{ObjectKey}': renaming it to '{RenamedKey}'")]
    private partial void LogRenaming(string objectKey, string renamedKey);

    [LoggerMessage(2, LogLevel.Information, "File '{ObjectKey}' queued as {FileId} (dropped as '{OriginalFilename}')")]
    private partial void LogQueued(string objectKey, string fileId, string originalFilename);

    [LoggerMessage(3, LogLevel.Debug, "No registered config matches '{ObjectKey}'; it stays Queued")]
    private partial void LogNoMatch(string objectKey);

    [LoggerMessage(4, LogLevel.Information, "'{ObjectKey}' matched config '{ConfigKey}'; job {JobId}")]
    private partial void LogMatched(string objectKey, string configKey, string jobId);

    [LoggerMessage(5, LogLevel.Information, "File '{ObjectKey}' ({FileId}) finished: {Status} {Reason}")]
    private partial void LogFinished(string objectKey, string fileId, FileStatus status, string? reason);

    [LoggerMessage(6, LogLevel.Warning, "Job {JobId} on '{ObjectKey}' failed attempt {Attempt} of {MaxAttempts}; retrying in {Delay}: {Reason}")]
    private partial void LogRetrying(string objectKey, string jobId, int attempt, int maxAttempts, TimeSpan delay, string? reason);

    [LoggerMessage(7, LogLevel.Warning, "Attempt {Attempt} of job {JobId} on '{ObjectKey}' is no longer running (its silo stopped)")]
    private partial void LogAttemptLost(string objectKey, string jobId, int attempt);

    [LoggerMessage(8, LogLevel.Debug, "Ignoring the outcome of job {JobId} attempt {Attempt} for '{ObjectKey}': the job has moved on")]
    private partial void LogStaleOutcome(string objectKey, string jobId, int attempt);

    [LoggerMessage(9, LogLevel.Warning, "'{ObjectKey}' already tracks file {FileId}; ignoring adoption of {OtherFileId}")]
    private partial void LogAdoptConflict(string objectKey, string? fileId, string otherFileId);

    [LoggerMessage(10, LogLevel.Error, "Cannot rename '{ObjectKey}': {Problem}; the file is left where it is")]
    private partial void LogCannotRename(string objectKey, string problem);

    [LoggerMessage(11, LogLevel.Warning, "The drop '{ObjectKey}' disappeared before it was renamed")]
    private partial void LogDropVanished(string objectKey);

    [LoggerMessage(12, LogLevel.Warning, "'{ObjectKey}' disappeared before its final move")]
    private partial void LogFileVanished(string objectKey);
}
