using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Grains.State;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Telemetry;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>
/// See <see cref="IFileJobGrain"/>. An interpreter of <see cref="FileJobMachine"/>: every call becomes a trigger; the
/// grain persists the state when the decision asks (the job's durable timer first), runs the effects in order, and
/// feeds effect results and follow-up triggers back until the machine rests.
/// </summary>
internal sealed partial class FileJobGrain(
    [PersistentState("filejob", CastIronNames.GrainStorage)] IPersistentState<FileJobGrainState> state,
    IObjectStore store,
    IFileStatusStore statusStore,
    IJobEventSink jobEvents,
    ConfigSnapshotCache snapshots,
    JobRunner runner,
    IJobTimerStore timers,
    IOptions<CastIronOptions> options,
    IOptions<ProcessingOptions> processing,
    TimeProvider time,
    ILogger<FileJobGrain> logger) : Grain, IFileJobGrain
{
    private static readonly TimeSpan KeepWhileWaiting = TimeSpan.FromDays(1);

    private readonly FileJobPolicy _policy = new(
        processing.Value.RetryBaseDelay,
        processing.Value.RetryMaxDelay,
        options.Value.Retention,
        options.Value.MaxInterruptions,
        options.Value.RecoveryInterval);

    private FileJobState _current = new NoJob();
    private string _bucket = options.Value.Bucket;
    private ProcessorRunRequest? _granted;
    private bool _unsettled;

    private string FileId => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!FileIds.IsValid(FileId))
        {
            throw new ArgumentException($"'{FileId}' is not a file id");
        }

        _current = state.State.Current;
        _bucket = _current.Record?.BucketName ?? _bucket;
        _unsettled = _current is Running;
        return Task.CompletedTask;
    }

    /// <summary>
    /// A job found Running when it activates may have lost its attempt with a silo: that is settled before anything
    /// else is asked of it (at its first call, not during activation, so a failing store cannot fail activation).
    /// </summary>
    private async Task SettleAsync()
    {
        if (_unsettled && _current is Running running && !runner.IsActive(running.Job.JobId, running.File.Attempts))
        {
            await InterpretAsync(new Resume(RunAlive: false));
        }

        _unsettled = false;
    }

    Task IFileJobGrain.ObjectSeenAsync(BucketEvent bucketEvent) => SeenAsync(bucketEvent, predecessor: null);

    Task IFileJobGrain.ForwardedAsync(BucketEvent bucketEvent, string predecessor) => SeenAsync(bucketEvent, predecessor);

    private async Task SeenAsync(BucketEvent bucketEvent, string? predecessor)
    {
        using var scope = BeginScope();
        await SettleAsync();
        ObjectFacts facts;
        if (_current is NoJob or Final)
        {
            // Events are hints: the object itself says whether it exists and which upload it is.
            var info = await store.StatAsync(bucketEvent.Bucket, bucketEvent.Key);
            if (info is null)
            {
                return;
            }

            var id = FileIds.For(bucketEvent.Bucket, bucketEvent.Key, info.ETag, info.Metadata);
            // A forwarded upload derives an earlier job's id, not ours: that is why it was forwarded (never send it back).
            if (predecessor is null && id != FileId && FileIds.OfRenamed(bucketEvent.Key, info.Metadata) is null && _current is NoJob)
            {
                // A stale event: the key now holds another upload, which is that upload's job.
                await GrainFactory.GetGrain<IFileJobGrain>(id).ObjectSeenAsync(bucketEvent with { ETag = info.ETag, UserMetadata = info.Metadata });
                return;
            }

            facts = new ObjectFacts(info.Size, info.ETag, info.ContentType, info.Metadata);
        }
        else
        {
            facts = new ObjectFacts(bucketEvent.Size ?? 0, bucketEvent.ETag ?? "", bucketEvent.ContentType, bucketEvent.UserMetadata);
        }

        _bucket = _current.Record?.BucketName ?? bucketEvent.Bucket;
        await InterpretAsync(new ObjectSeen(bucketEvent.Bucket, bucketEvent.Key, FileId, facts, StrayInboxKey(bucketEvent.Key)));
    }

    async Task IFileJobGrain.ObjectRemovedAsync(string key)
    {
        using var scope = BeginScope();
        await SettleAsync();
        if (_current is Queued or WaitingForSlot && _current.File.FileName == key && await store.StatAsync(_bucket, key) is null)
        {
            await InterpretAsync(new ObjectMissing());
        }
    }

    async Task IFileJobGrain.ResumeAsync()
    {
        using var scope = BeginScope();
        await SettleAsync();
        await InterpretAsync(new Resume(IsRunAlive()));
    }

    async Task<ProcessorRunRequest?> IFileJobGrain.SlotGrantedAsync(string jobId)
    {
        using var scope = BeginScope();
        await SettleAsync();
        _granted = null;
        try
        {
            await InterpretAsync(new SlotGranted(jobId));
        }
        catch (Exception ex) when (_current is Running)
        {
            // Running is persisted but the attempt was not handed over: look again soon rather than at the timeout.
            LogStartFailed(ex, jobId);
            await timers.SetAsync(FileId, time.GetUtcNow() + _policy.Recheck);
            throw;
        }

        var granted = _granted;
        _granted = null;
        return granted;
    }

    async Task IFileJobGrain.RunEndedAsync(ProcessorOutcome outcome)
    {
        using var scope = BeginScope();
        await InterpretAsync(new RunEnded(outcome.JobId, outcome.Attempt, outcome.Kind, outcome.Reason, outcome.Output, outcome.Retryable));
    }

    async Task<CommandResult> IFileJobGrain.CancelAsync(string? reason)
    {
        using var scope = BeginScope();
        await SettleAsync();
        var why = string.IsNullOrWhiteSpace(reason) ? "canceled by a user" : reason;
        // A file no config took yet goes to the canceled folder of the config owning its inbox.
        var owner = _current is Queued or Arriving && snapshots.Current.InboxOwner(_current.File.JobKey) is { } o ? new OwnerConfig(o.ConfigKey, o.Config) : null;
        var answer = await InterpretAsync(new Cancel(why, owner));
        return new CommandResult(answer?.Accepted ?? false, answer?.Message ?? "not carried out", _current.Record?.Status);
    }

    async Task<CommandResult> IFileJobGrain.RetryAsync(FileStatusRecord? known)
    {
        using var scope = BeginScope();
        await SettleAsync();
        _bucket = _current.Record?.BucketName ?? known?.BucketName ?? _bucket;
        var answer = await InterpretAsync(new Retry(known));
        return new CommandResult(answer?.Accepted ?? false, answer?.Message ?? "not carried out", _current.Record?.Status);
    }

    Task<FileStatusRecord?> IFileJobGrain.GetStatusAsync() => Task.FromResult(_current.Record);

    /// <summary>For a tracked file in a registered processing folder: its inbox key (it is found there when its job state was lost).</summary>
    private string? StrayInboxKey(string key) =>
        _current is NoJob && snapshots.Current.InboxOwner(key) is null
            ? snapshots.Current.Processors.FirstOrDefault(p => p.Paths.ProcessingFolder == ObjectKeys.Parent(key))?.Paths.Inbox(key)
            : null;

    private bool IsRunAlive() => _current is Running r && runner.IsActive(r.Job.JobId, r.File.Attempts);

    /// <summary>Runs the machine from <paramref name="trigger"/> until it rests; returns the last answer to a command.</summary>
    private async Task<CommandAnswer?> InterpretAsync(FileJobTrigger trigger)
    {
        // One span per call into the job, named after its trigger ("castiron.filejob ObjectSeen").
        using var activity = StartActivity(trigger);
        CommandAnswer? answer = null;
        for (FileJobTrigger? next = trigger; next is not null;)
        {
            var before = _current;
            var decision = FileJobMachine.Decide(_current, next, time.GetUtcNow(), _policy);
            answer = decision.Answer ?? answer;
            if (decision.Persist)
            {
                await PersistAsync(decision.State);
            }

            _current = decision.State;
            LogChange(before, _current);
            next = decision.Then;
            foreach (var effect in decision.Effects)
            {
                if (await RunAsync(effect, before) is { } result)
                {
                    next = result;
                    break;
                }
            }
        }

        if (activity is not null)
        {
            activity.SetTag(CastIronTelemetry.JobIdTag, _current.Record?.JobId);
            activity.SetTag("castiron.job.state", _current.GetType().Name);
            activity.SetTag(CastIronTelemetry.StatusTag, _current.Record?.Status.ToString());
        }

        switch (_current)
        {
            case WaitingForSlot or Running:
                // Waiting or running jobs keep their activation: the slot grant and the outcome come back to it.
                DelayDeactivation(KeepWhileWaiting);
                break;
            case Final or NoJob:
                DeactivateOnIdle();
                break;
        }

        return answer;
    }

    /// <summary>The job's timer first, then the state: a crash between them leaves a timer that finds the older state.</summary>
    private async Task PersistAsync(FileJobState next)
    {
        var wake = FileJobMachine.WakeAt(next, time.GetUtcNow(), _policy);
        try
        {
            if (wake is { } at)
            {
                await timers.SetAsync(FileId, at);
            }

            state.State.Current = next;
            await state.WriteStateAsync();
        }
        catch
        {
            // A write that timed out may still have landed (and moved the ETag): the next call reads the stored state
            // afresh in a new activation rather than conflicting with it forever.
            DeactivateOnIdle();
            throw;
        }

        if (wake is null)
        {
            await timers.RemoveAsync(FileId);
        }
    }

    /// <param name="before">The state the decision left (its job's events go with it when the state is cleared).</param>
    private async Task<FileJobTrigger?> RunAsync(FileJobEffect effect, FileJobState before)
    {
        switch (effect)
        {
            case MoveObject move when before is Arriving && await ArrivedAlreadyAsync(move):
                // A replayed arrival (its job was reactivated while its file waited) whose rename happened, and the drop
                // key now holds another upload of the same name: moving again would put that one over this file.
                return null;
            case MoveObject move:
                return await MoveAsync(move);
            case WriteErrorLog log:
                await store.WriteTextAsync(_bucket, log.Key, log.Text, log.Metadata);
                return null;
            case WriteStatus write:
                await statusStore.UpsertAsync(write.Record);
                CastIronTelemetry.StatusTransitions.Add(1, new KeyValuePair<string, object?>(CastIronTelemetry.StatusTag, write.Record.Status.ToString()));
                return null;
            case PublishJobEvent publish:
                await jobEvents.PublishAsync(publish.Event);
                return null;
            case MatchConfig match:
                return Match(match);
            case RequestSlot request:
                runner.Request(FileId, request.JobId, request.ConfigKey, request.ConfigLimit);
                return null;
            case StartRun start:
                _granted = new ProcessorRunRequest
                {
                    Bucket = _bucket,
                    FileId = FileId,
                    JobId = start.Job.JobId,
                    Attempt = start.Attempt,
                    ObjectKey = start.ObjectKey,
                    OriginalFilename = _current.File.OriginalFilename,
                    ConfigKey = start.Job.ConfigKey,
                    Config = start.Job.Config,
                    Metadata = start.Metadata,
                    Timeout = start.Job.Timeout,
                };
                return null;
            case CancelRun cancel:
                runner.Cancel(cancel.JobId);
                return null;
            case ScheduleWake wake:
                await timers.SetAsync(FileId, wake.At);
                return null;
            case CancelWake:
                await timers.RemoveAsync(FileId);
                return null;
            case ClearState:
                // Retention ended: the job's events go too.
                if (before.Record?.JobId is { } jobId)
                {
                    await GrainFactory.GetGrain<IJobEventsGrain>(jobId).ClearAsync();
                }

                await state.ClearStateAsync();
                await timers.RemoveAsync(FileId);
                return null;
            case ForwardTo forward:
                LogForwarded(forward.Seen.Key, forward.FileId);
                await GrainFactory.GetGrain<IFileJobGrain>(forward.FileId).ForwardedAsync(new BucketEvent
                {
                    EventName = "s3:ObjectCreated:Put",
                    Kind = BucketEventKind.Created,
                    Bucket = forward.Seen.Bucket,
                    Key = forward.Seen.Key,
                    ETag = forward.Seen.Facts.ETag,
                    Size = forward.Seen.Facts.Size,
                    ContentType = forward.Seen.Facts.ContentType,
                    UserMetadata = forward.Seen.Facts.Metadata,
                }, FileId);
                return null;
            case Reject reject:
                LogRejected(reject.Reason);
                return null;
            default:
                throw new InvalidOperationException($"unknown effect {effect.GetType().Name}");
        }
    }

    /// <summary>
    /// Whether the arrival's target already holds this file (renamed under its id) while its source is gone or is
    /// another upload. (The same upload at both: a move cut short between copy and delete, which the move completes.)
    /// </summary>
    private async Task<bool> ArrivedAlreadyAsync(MoveObject move) =>
        await store.StatAsync(_bucket, move.To) is { } target
        && FileIds.OfRenamed(move.To, target.Metadata) == FileId
        && (await store.StatAsync(_bucket, move.From) is not { } source || FileIds.For(_bucket, move.From, source.ETag, source.Metadata) != FileId);

    private async Task<FileJobTrigger?> MoveAsync(MoveObject move)
    {
        // The final move (to the archive, failed or canceled folder) is a span of its own.
        using var activity = _current is Finalizing ? StartMoveActivity(move) : null;
        try
        {
            await store.MoveAsync(_bucket, move.From, move.To, move.Metadata);
        }
        catch (ObjectNotFoundException) when (move.MissingOk)
        {
            LogFileVanished(move.From);
        }
        catch (ObjectNotFoundException)
        {
            return new ObjectMissing();
        }

        return null;
    }

    private FileJobTrigger Match(MatchConfig match)
    {
        if (snapshots.Current.Match(match.Key, match.ContentType, options.Value.MatchContentType) is not { } processor)
        {
            LogNoMatch(match.Key);
            return new NoMatch();
        }

        var config = processor.Config;
        var timeout = config.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : processing.Value.DefaultTimeout;
        return new Matched(processor.ConfigKey, config, NewJobId(), config.MaxAttempts ?? processing.Value.DefaultMaxAttempts, timeout);
    }

    /// <summary>22 URL-safe characters from 16 random bytes (the seed used standard base64, with '+' and '/').</summary>
    private static string NewJobId() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private void LogChange(FileJobState before, FileJobState after)
    {
        if (before.GetType() == after.GetType() || after.Record is not { } record)
        {
            return;
        }

        switch (after)
        {
            case Queued when before is Arriving or NoJob:
                LogQueued(record.FileName, record.OriginalFilename);
                break;
            case Running running when before is WaitingForSlot && record.Attempts == 1:
                LogMatched(record.FileName, running.Job.ConfigKey, running.Job.JobId);
                break;
            case Backoff backoff when before is Running:
                LogRetrying(record.FileName, backoff.Job.JobId, record.Attempts, backoff.Job.MaxAttempts, backoff.Due, record.Interruptions, record.Reason);
                break;
            case Final:
                LogFinished(record.FileName, record.Status, record.Reason);
                break;
        }
    }

    private Activity? StartActivity(FileJobTrigger trigger)
    {
        if (!CastIronTelemetry.Source.HasListeners())
        {
            return null;
        }

        var activity = CastIronTelemetry.Source.StartActivity("castiron.filejob");
        if (activity is not null)
        {
            var name = trigger.GetType().Name;
            activity.DisplayName = $"castiron.filejob {name}";
            activity.SetTag(CastIronTelemetry.FileIdTag, FileId);
            activity.SetTag("castiron.job.trigger", name);
            activity.SetTag(CastIronTelemetry.JobIdTag, _current.Record?.JobId);
        }

        return activity;
    }

    private Activity? StartMoveActivity(MoveObject move)
    {
        var activity = CastIronTelemetry.Source.StartActivity("castiron.final_move");
        if (activity is not null)
        {
            activity.SetTag(CastIronTelemetry.FileIdTag, FileId);
            activity.SetTag(CastIronTelemetry.JobIdTag, _current.Record?.JobId);
            activity.SetTag("castiron.move.from", move.From);
            activity.SetTag("castiron.move.to", move.To);
        }

        return activity;
    }

    private IDisposable? BeginScope() =>
        logger.BeginScope(new Dictionary<string, object?> { ["FileId"] = FileId, ["JobId"] = _current.Record?.JobId });

    [LoggerMessage(2, LogLevel.Debug, "File '{ObjectKey}' queued (dropped as '{OriginalFilename}')")]
    private partial void LogQueued(string objectKey, string originalFilename);

    [LoggerMessage(3, LogLevel.Debug, "No registered config matches '{ObjectKey}'; it stays Queued")]
    private partial void LogNoMatch(string objectKey);

    [LoggerMessage(4, LogLevel.Information, "'{ObjectKey}' matched config '{ConfigKey}'; job {JobId}")]
    private partial void LogMatched(string objectKey, string configKey, string jobId);

    [LoggerMessage(5, LogLevel.Information, "File '{ObjectKey}' finished: {Status} {Reason}")]
    private partial void LogFinished(string objectKey, FileStatus status, string? reason);

    [LoggerMessage(6, LogLevel.Warning, "Job {JobId} on '{ObjectKey}': attempt {Attempt} of {MaxAttempts} did not succeed ({Interruptions} interruption(s)); next attempt at {Due}: {Reason}")]
    private partial void LogRetrying(string objectKey, string jobId, int attempt, int maxAttempts, DateTimeOffset due, int interruptions, string? reason);

    [LoggerMessage(13, LogLevel.Error, "Job {JobId} could not start its attempt; it is looked at again shortly")]
    private partial void LogStartFailed(Exception exception, string jobId);

    [LoggerMessage(10, LogLevel.Warning, "Not taken: {Reason}")]
    private partial void LogRejected(string reason);

    [LoggerMessage(11, LogLevel.Information, "'{ObjectKey}' holds a new upload that looks like a finished one; handing it to job {FileId}")]
    private partial void LogForwarded(string objectKey, string fileId);

    [LoggerMessage(12, LogLevel.Warning, "'{ObjectKey}' disappeared before its final move")]
    private partial void LogFileVanished(string objectKey);
}
