using System.Diagnostics;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Telemetry;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// This silo's processing slots and running processors. A FileJob asks for a slot and waits in its inbox, holding
/// nothing; when its config has a free slot (taken first, so one config at its limit never holds silo slots the
/// others could use) and the silo has one, the job is asked whether it still wants it and hands back the attempt,
/// which runs off the grain's scheduler. Configs take turns, so one config's backlog cannot starve another. A config's
/// <c>max_concurrency</c> holds across the cluster: before one of its files takes a silo slot, the file's lane holds
/// one of the config's slots in <see cref="IConfigSlotsGrain"/> (one such request in flight per lane).
/// On a graceful stop no new attempt starts, waiting jobs stay where they are, and running processors get
/// <see cref="ProcessingOptions.ShutdownGracePeriod"/> to finish and report; those still running are abandoned and
/// run again after the restart. Job folders of dead silo processes are removed at start and whenever a silo of the
/// cluster dies (a killed silo on this machine leaves its attempts' folders behind).
/// </summary>
public sealed partial class JobRunner(
    IGrainFactory grains,
    ClusterConfigSlots configSlots,
    ProcessorExecutor executor,
    IOptions<ProcessingOptions> options,
    IClusterMembershipService membership,
    ILogger<JobRunner> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan MaxReportDelay = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ConfigLane> _lanes = new(StringComparer.Ordinal);
    private readonly LinkedList<ConfigLane> _turns = new();
    private readonly Dictionary<string, SlotRequest> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ActiveRun> _runs = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _stopped = new();
    private Task _watching = Task.CompletedTask;
    private Task _renewing = Task.CompletedTask;
    private int _busy;
    private bool _accepting = true;

    /// <summary>Jobs waiting for a slot on this silo.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Attempts running (or reporting) on this silo.</summary>
    public int Running
    {
        get
        {
            lock (_lock)
            {
                return _runs.Count;
            }
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(JobRunner), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    /// <summary>Queues job <paramref name="jobId"/> for a slot; asking again while it waits or runs changes nothing.</summary>
    public void Request(string fileId, string jobId, string configKey, int? configLimit)
    {
        lock (_lock)
        {
            // A retry's request may come while the previous attempt still reports its end: that one is queued.
            if (_waiting.ContainsKey(jobId) || (_runs.TryGetValue(jobId, out var running) && !running.Reporting))
            {
                return;
            }

            if (!_lanes.TryGetValue(configKey, out var lane))
            {
                lane = new ConfigLane(configKey);
                _lanes[configKey] = lane;
            }

            lane.Limit = configLimit;
            // The attempt is traced under the job that asked for its slot (its FileJob call).
            var request = new SlotRequest(fileId, jobId, lane, Activity.Current?.Context ?? default);
            lane.Queue.AddLast(request);
            _waiting[jobId] = request;
            if (lane.Queue.Count == 1 && lane.Turn is null)
            {
                lane.Turn = _turns.AddLast(lane);
            }
        }

        Pump();
    }

    /// <summary>Stops job <paramref name="jobId"/>: drops its slot request, or cancels its running attempt. False when it neither waits nor runs here.</summary>
    public bool Cancel(string jobId)
    {
        SlotRequest? cleared = null;
        var found = false;
        lock (_lock)
        {
            if (_waiting.Remove(jobId, out var request))
            {
                found = true;
                if (request.Lane.Cleared == request)
                {
                    request.Lane.Cleared = null;
                    cleared = request;
                }
                else
                {
                    request.Lane.Queue.Remove(request);
                }
            }
            else if (_runs.TryGetValue(jobId, out var run) && !run.Reporting)
            {
                found = true;
                run.Cancel.Cancel();
            }
        }

        if (cleared is not null)
        {
            // Its config slot goes back (outside the lock: a grain call).
            configSlots.Release(cleared.Lane.ConfigKey, cleared.Token);
        }

        return found;
    }

    /// <summary>Whether attempt <paramref name="attempt"/> of <paramref name="jobId"/> runs here or is reporting its end.</summary>
    public bool IsActive(string jobId, int attempt)
    {
        lock (_lock)
        {
            // Attempt 0: reserved while the job is being granted its slot (the job is Running before the runner hears back).
            return _runs.TryGetValue(jobId, out var run) && (run.Attempt == attempt || run.Attempt == 0);
        }
    }

    private void Pump()
    {
        var granted = new List<SlotRequest>();
        lock (_lock)
        {
            while (_accepting && _busy < options.Value.MaxConcurrency && NextRequest() is { } request)
            {
                _waiting.Remove(request.JobId);
                request.Lane.Busy++;
                _busy++;
                granted.Add(request);
            }
        }

        foreach (var request in granted)
        {
            _ = GrantAsync(request);
        }
    }

    /// <summary>The first request of the next config (in turn) that has a free slot of its own.</summary>
    private SlotRequest? NextRequest()
    {
        LinkedListNode<ConfigLane>? next;
        for (var node = _turns.First; node is not null; node = next)
        {
            next = node.Next;
            var lane = node.Value;
            if (lane.Queue.Count == 0 && lane.Cleared is null)
            {
                _turns.Remove(node);
                lane.Turn = null;
                continue;
            }

            SlotRequest request;
            if (lane.Cleared is { } cleared)
            {
                // Its config slot is held (whatever the limit says now: the config may have been edited meanwhile).
                request = cleared;
                lane.Cleared = null;
            }
            else if (lane.Limit is { } limit)
            {
                // Limited: only a file whose config slot is held (cluster-wide) takes a silo slot; the lane asks for
                // the next one while it has room.
                if (!lane.Clearing && lane.Busy < limit && lane.Queue.First is { } head)
                {
                    lane.Clearing = true;
                    var first = head.Value;
                    _ = Task.Run(() => ClearAsync(lane, first, limit), CancellationToken.None);
                }

                continue;
            }
            else if (lane.Queue.First is { } waiting)
            {
                request = waiting.Value;
                lane.Queue.RemoveFirst();
            }
            else
            {
                continue;
            }

            // This config goes to the back of the line.
            _turns.Remove(node);
            lane.Turn = lane.Queue.Count > 0 ? _turns.AddLast(lane) : null;
            return request;
        }

        return null;
    }

    /// <summary>Holds one of the config's cluster-wide slots for the lane's first waiting file, then lets it take a silo slot.</summary>
    private async Task ClearAsync(ConfigLane lane, SlotRequest request, int limit)
    {
        var held = await configSlots.AcquireAsync(lane.ConfigKey, request.Token, limit, () => StillWaiting(request), _stopping.Token).ConfigureAwait(false);
        var giveBack = false;
        lock (_lock)
        {
            lane.Clearing = false;
            // With every silo slot taken meanwhile (by another config), the config slot goes back rather than idling
            // here while another silo could use it; the lane asks again when a silo slot frees.
            var stillWaiting = _waiting.TryGetValue(request.JobId, out var waiting) && waiting == request;
            if (held && _accepting && stillWaiting && _busy < options.Value.MaxConcurrency && lane.Queue.Remove(request))
            {
                lane.Cleared = request;
                lane.Turn ??= _turns.AddLast(lane);
            }
            else
            {
                giveBack = held;
            }
        }

        if (giveBack)
        {
            configSlots.Release(lane.ConfigKey, request.Token);
        }

        Pump();
    }

    private bool StillWaiting(SlotRequest request)
    {
        lock (_lock)
        {
            return _waiting.TryGetValue(request.JobId, out var waiting) && waiting == request;
        }
    }

    private async Task GrantAsync(SlotRequest request)
    {
        // Not under whatever freed the slot (another job's attempt): under the job that asked for it.
        if (Activity.Current is not null)
        {
            Activity.Current = null;
        }

        var activity = CastIronTelemetry.Source.StartActivity("castiron.attempt", ActivityKind.Internal, request.Parent);
        activity?.SetTag(CastIronTelemetry.FileIdTag, request.FileId);
        activity?.SetTag(CastIronTelemetry.JobIdTag, request.JobId);
        activity?.SetTag(CastIronTelemetry.ConfigTag, request.Lane.ConfigKey);

        // Reserved before the job is asked, so a cancel or a stop in the meantime finds it.
        var active = new ActiveRun(attempt: 0);
        lock (_lock)
        {
            _runs[request.JobId] = active;
        }

        ProcessorRunRequest? run;
        try
        {
            run = await grains.GetGrain<IFileJobGrain>(request.FileId).SlotGrantedAsync(request.JobId).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The job could not take it (its storage did not answer, say): it is resumed until it answers, and then asks
            // anew. Dropped here, a job waiting in its inbox would have nothing left to wake it.
            LogGrantFailed(ex, request.JobId);
            _ = ResumeUntilAnsweredAsync(request.FileId, request.JobId);
            run = null;
        }

        if (run is null)
        {
            activity?.SetTag(CastIronTelemetry.AttemptOutcomeTag, "not_started");
            activity?.Dispose();
            Forget(request.JobId, active);
            Release(request.Lane, request.Token);
            return;
        }

        bool start;
        lock (_lock)
        {
            active.Attempt = run.Attempt;
            start = _accepting;
            if (start)
            {
                active.Task = Task.Run(() => RunAsync(request.Lane, request.Token, run, active, activity));
            }
        }

        if (!start)
        {
            // The silo began stopping while the job was asked: the attempt is not started; it runs after the restart, uncounted.
            activity?.SetTag(CastIronTelemetry.AttemptOutcomeTag, "not_started");
            activity?.Dispose();
            Forget(request.JobId, active);
            Release(request.Lane, request.Token);
        }
    }

    private void Forget(string jobId, ActiveRun active)
    {
        lock (_lock)
        {
            if (_runs.TryGetValue(jobId, out var current) && current == active)
            {
                _runs.Remove(jobId);
            }
        }

        active.Cancel.Dispose();
    }

    private async Task RunAsync(ConfigLane lane, string slotToken, ProcessorRunRequest run, ActiveRun active, Activity? activity)
    {
        ProcessorOutcome? outcome;
        var started = Stopwatch.GetTimestamp();
        try
        {
            outcome = await executor.ExecuteAsync(run, active.Cancel.Token, _shutdown.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            outcome = new ProcessorOutcome { JobId = run.JobId, Attempt = run.Attempt, Kind = ProcessorOutcomeKind.Failed, Reason = $"{ex.GetType().Name}: {ex.Message}", Retryable = true, Output = ex.ToString() };
        }

        Measure(run, outcome, Stopwatch.GetElapsedTime(started), activity);
        lock (_lock)
        {
            active.Reporting = true;
        }

        // The slot is held until the job has recorded the end: attempts in flight (whose work a kill could repeat)
        // never outnumber the slots.
        try
        {
            if (outcome is not null)
            {
                await ReportAsync(run, outcome).ConfigureAwait(false);
            }
        }
        finally
        {
            activity?.Dispose();
            Forget(run.JobId, active);
            Release(lane, slotToken);
        }
    }

    /// <summary>Records the attempt's duration and end (<c>abandoned</c>: cut short by the silo stopping).</summary>
    private static void Measure(ProcessorRunRequest run, ProcessorOutcome? outcome, TimeSpan elapsed, Activity? activity)
    {
        var kind = CastIronTelemetry.KindName(run.Config.Kind);
        var ended = outcome?.Kind switch
        {
            ProcessorOutcomeKind.Succeeded => "succeeded",
            ProcessorOutcomeKind.Failed => "failed",
            ProcessorOutcomeKind.Canceled => "canceled",
            _ => "abandoned",
        };
        var tags = new TagList { { CastIronTelemetry.ProcessorKindTag, kind }, { CastIronTelemetry.AttemptOutcomeTag, ended } };
        CastIronTelemetry.ProcessingDuration.Record(elapsed.TotalSeconds, tags);
        CastIronTelemetry.Attempts.Add(1, tags);
        if (activity is not null)
        {
            activity.SetTag(CastIronTelemetry.AttemptTag, run.Attempt);
            activity.SetTag(CastIronTelemetry.ProcessorKindTag, kind);
            activity.SetTag(CastIronTelemetry.AttemptOutcomeTag, ended);
            activity.SetTag(CastIronTelemetry.ObjectKeyTag, run.ObjectKey);
            if (outcome?.Kind == ProcessorOutcomeKind.Failed)
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome.Reason);
            }
        }
    }

    /// <summary>Reports the end until the job has it (with a capped backoff) or the silo stops: an end dropped here would run the attempt again.</summary>
    private async Task ReportAsync(ProcessorRunRequest run, ProcessorOutcome outcome)
    {
        var job = grains.GetGrain<IFileJobGrain>(run.FileId);
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await job.RunEndedAsync(outcome).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!_shutdown.IsCancellationRequested)
            {
                LogReportFailed(ex, outcome.JobId, outcome.Attempt, delay);
                await Task.Delay(delay, _shutdown.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = delay * 2 < MaxReportDelay ? delay * 2 : MaxReportDelay;
            }
            catch (Exception ex)
            {
                // Stopping: the job's timer finds the attempt gone after the restart and runs it again, uncounted.
                LogReportAbandoned(ex, outcome.JobId, outcome.Attempt);
                return;
            }
        }
    }

    /// <summary>
    /// Resumes a job whose slot grant failed midway until it answers, backing off from 1 s to 30 s while this silo runs:
    /// resumed, a job waiting for a slot asks for one again.
    /// </summary>
    private async Task ResumeUntilAnsweredAsync(string fileId, string jobId)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!_stopping.IsCancellationRequested)
        {
            await Task.Delay(delay, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (_stopping.IsCancellationRequested)
            {
                // After the restart the inboxes are listed, which finds it.
                return;
            }

            try
            {
                await grains.GetGrain<IFileJobGrain>(fileId).ResumeAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception ex)
            {
                delay = delay * 2 < MaxReportDelay ? delay * 2 : MaxReportDelay;
                LogResumeFailed(ex, fileId, jobId, delay);
            }
        }
    }

    /// <summary>Gives back a silo slot and the config slot <paramref name="slotToken"/> held with it, if any.</summary>
    private void Release(ConfigLane lane, string slotToken)
    {
        lock (_lock)
        {
            lane.Busy--;
            _busy--;
            if (lane.Busy == 0 && lane.Queue.Count == 0 && lane.Turn is null && !lane.Clearing && lane.Cleared is null)
            {
                _lanes.Remove(lane.ConfigKey);
            }
        }

        configSlots.Release(lane.ConfigKey, slotToken);
        Pump();
    }

    private Task StartAsync(CancellationToken cancellationToken)
    {
        CleanOrphans();
        _watching = Task.Run(() => CleanWhenSilosDieAsync(_stopping.Token), CancellationToken.None);
        _renewing = Task.Run(() => configSlots.RenewAsync(_stopped.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task CleanWhenSilosDieAsync(CancellationToken stopping)
    {
        var dead = new HashSet<SiloAddress>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping).ConfigureAwait(false))
            {
                // Count() first: every newly dead silo is remembered, not only the first.
                if (snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Count(m => dead.Add(m.SiloAddress)) > 0)
                {
                    CleanOrphans();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogOrphanWatchFailed(ex);
        }
    }

    private void CleanOrphans()
    {
        var removed = executor.CleanOrphanedJobFolders();
        if (removed > 0)
        {
            LogOrphansRemoved(removed, executor.WorkRoot);
        }
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // First: no attempt starts from here on.
            _accepting = false;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        // The membership feed ends at its next update at the latest; stopping does not wait for it.
        await _watching.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] running;
        lock (_lock)
        {
            _accepting = false;
            running = [.. _runs.Values.Select(r => r.Task)];
        }

        LogStopping(running.Length, Waiting, options.Value.ShutdownGracePeriod);
        var all = Task.WhenAll(running);
        await all.WaitAsync(options.Value.ShutdownGracePeriod, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!all.IsCompleted)
        {
            await _shutdown.CancelAsync().ConfigureAwait(false);
            await all.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // Config slots held for files that will not start here now go back; then the renewals stop.
        List<SlotRequest> cleared;
        lock (_lock)
        {
            cleared = [.. _lanes.Values.Select(l => l.Cleared).OfType<SlotRequest>()];
            foreach (var lane in _lanes.Values)
            {
                lane.Cleared = null;
            }
        }

        foreach (var request in cleared)
        {
            configSlots.Release(request.Lane.ConfigKey, request.Token);
        }

        await _stopped.CancelAsync().ConfigureAwait(false);
        await _renewing.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private sealed class ConfigLane(string configKey)
    {
        public string ConfigKey { get; } = configKey;

        public int? Limit { get; set; }

        public int Busy { get; set; }

        /// <summary>A config slot is being asked for (the lane's first waiting file).</summary>
        public bool Clearing { get; set; }

        /// <summary>The file whose config slot is held, next to take a silo slot (out of <see cref="Queue"/>, still waiting).</summary>
        public SlotRequest? Cleared { get; set; }

        public LinkedList<SlotRequest> Queue { get; } = new();

        public LinkedListNode<ConfigLane>? Turn { get; set; }
    }

    private sealed record SlotRequest(string FileId, string JobId, ConfigLane Lane, ActivityContext Parent)
    {
        /// <summary>Names this request's cluster-wide config slot: a retry of the job is another holding, not the same one.</summary>
        public string Token { get; } = $"{JobId}/{Guid.NewGuid():N}";
    }

    private sealed class ActiveRun(int attempt)
    {
        public int Attempt { get; set; } = attempt;

        public CancellationTokenSource Cancel { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;

        public bool Reporting { get; set; }
    }

    [LoggerMessage(1, LogLevel.Warning, "Granting a slot to job {JobId} failed; it is resumed until it answers, then asks again")]
    private partial void LogGrantFailed(Exception exception, string jobId);

    [LoggerMessage(2, LogLevel.Warning, "Reporting the end of job {JobId} attempt {Attempt} failed; retrying in {Delay}")]
    private partial void LogReportFailed(Exception exception, string jobId, int attempt, TimeSpan delay);

    [LoggerMessage(3, LogLevel.Error, "Could not report the end of job {JobId} attempt {Attempt}; its timer runs it again")]
    private partial void LogReportAbandoned(Exception exception, string jobId, int attempt);

    [LoggerMessage(9, LogLevel.Warning, "Watching the cluster for dead silos' job folders failed; they are removed at the next start")]
    private partial void LogOrphanWatchFailed(Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Removed {Count} job folder(s) left in '{WorkRoot}' by stopped silos")]
    private partial void LogOrphansRemoved(int count, string workRoot);

    [LoggerMessage(8, LogLevel.Warning, "Resuming file {FileId} (job {JobId}), whose slot grant failed, failed too; trying again in {Delay}")]
    private partial void LogResumeFailed(Exception exception, string fileId, string jobId, TimeSpan delay);

    [LoggerMessage(5, LogLevel.Information, "Stopping: {Running} processor(s) running get {Grace} to finish; {Waiting} waiting job(s) stay queued")]
    private partial void LogStopping(int running, int waiting, TimeSpan grace);
}
