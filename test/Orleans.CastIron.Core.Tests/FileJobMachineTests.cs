using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Core.Tests;

/// <summary>Each transition of the FileJob machine, decided directly.</summary>
public class FileJobMachineTests
{
    private const string Bucket = "etl";
    private const string Drop = "team/01_inbox/data.csv";
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly FileJobPolicy Policy = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), MaxInterruptions: 2);
    private static readonly ProcessorConfig Config = TestConfigs.Config();
    private static readonly string FileId = FileIds.ForDrop(Bucket, Drop, "etag-1");
    private static readonly ObjectFacts Facts = new(3, "etag-1", "text/csv", ImmutableDictionary<string, string>.Empty.Add("owner_dn", "alice").Add("status", "Complete"));

    private static FileJobDecision Decide(FileJobState state, FileJobTrigger trigger, DateTimeOffset? now = null) =>
        FileJobMachine.Decide(state, trigger, now ?? T0, Policy);

    private static ObjectSeen Seen(string key = Drop, ObjectFacts? facts = null) => new(Bucket, key, FileId, facts ?? Facts);

    private static Matched Match(string jobId = "job-1", int maxAttempts = 3) => new("team/cfg.toml", Config, jobId, maxAttempts, TimeSpan.FromMinutes(1));

    private static Queued QueuedState() => (Queued)Decide(Decide(new NoJob(), Seen()).State, new Arrived()).State;

    private static Running RunningState(int maxAttempts = 3)
    {
        var waiting = Decide(QueuedState(), Match(maxAttempts: maxAttempts)).State;
        return (Running)Decide(waiting, new SlotGranted("job-1")).State;
    }

    [Fact]
    public void ADrop_IsPersistedAsArriving_BeforeItIsRenamedToIdDashName_WithTheSeedMetadata()
    {
        var decision = Decide(new NoJob(), Seen());

        var arriving = Assert.IsType<Arriving>(decision.State);
        Assert.True(decision.Persist);
        var renamed = $"team/01_inbox/{FileId}-data.csv";
        Assert.Equal(Drop, arriving.FromKey);
        Assert.Equal(renamed, arriving.File.FileName);
        Assert.Equal(renamed, arriving.File.JobKey);
        Assert.Equal(FileStatus.Queued, arriving.File.Status);
        Assert.Equal("data.csv", arriving.File.OriginalFilename);
        // A user-set status is never trusted or carried.
        Assert.False(arriving.File.Metadata.ContainsKey("status"));
        var move = Assert.IsType<MoveObject>(decision.Effects[0]);
        Assert.Equal((Drop, renamed, false), (move.From, move.To, move.MissingOk));
        Assert.Equal("data.csv", move.Metadata["originalfilename"]);
        Assert.Equal(FileId, move.Metadata["id"]);
        Assert.Equal("alice", move.Metadata["owner_dn"]);
        Assert.IsType<WriteStatus>(decision.Effects[1]);
        Assert.IsType<Arrived>(decision.Then);
    }

    [Fact]
    public void ADropThatVanishesBeforeItIsRenamed_IsNotTracked()
    {
        var arriving = Decide(new NoJob(), Seen()).State;
        var decision = Decide(arriving, new ObjectMissing());

        Assert.IsType<NoJob>(decision.State);
        Assert.Contains(new ClearState(), decision.Effects);
        Assert.DoesNotContain(decision.Effects, e => e is WriteStatus);
    }

    [Fact]
    public void AnArrivedFile_IsMatched_WithoutAStateWrite()
    {
        var arriving = Decide(new NoJob(), Seen()).State;
        var decision = Decide(arriving, new Arrived());

        Assert.IsType<Queued>(decision.State);
        Assert.False(decision.Persist);
        Assert.IsType<MatchConfig>(Assert.Single(decision.Effects));
    }

    [Fact]
    public void AFileThatAlreadyCarriesItsId_IsNeverRenamedAgain()
    {
        var key = $"team/01_inbox/{FileId}-data.csv";
        var facts = Facts with { Metadata = ImmutableDictionary<string, string>.Empty.Add("id", FileId).Add("originalfilename", "data.csv") };
        var decision = Decide(new NoJob(), Seen(key, facts));

        var queued = Assert.IsType<Queued>(decision.State);
        Assert.True(decision.Persist);
        Assert.Equal(key, queued.File.FileName);
        Assert.Equal("data.csv", queued.File.OriginalFilename);
        Assert.DoesNotContain(decision.Effects, e => e is MoveObject);
    }

    [Fact]
    public void ATrackedFileFoundInAStageFolderWithNoState_GoesBackToItsInbox()
    {
        var key = $"team/02_processing/{FileId}-data.csv";
        var facts = Facts with { Metadata = ImmutableDictionary<string, string>.Empty.Add("id", FileId).Add("originalfilename", "data.csv").Add("status", "Processing") };
        var decision = Decide(new NoJob(), Seen(key, facts) with { InboxKey = $"team/01_inbox/{FileId}-data.csv" });

        var arriving = Assert.IsType<Arriving>(decision.State);
        Assert.Equal(key, arriving.FromKey);
        Assert.Equal($"team/01_inbox/{FileId}-data.csv", arriving.File.FileName);
        Assert.NotNull(FileJobMachine.WakeAt(arriving, T0, Policy));
        Assert.Equal(key, Assert.IsType<MoveObject>(decision.Effects[0]).From);
    }

    [Fact]
    public void AFinishedFileWithNoState_IsLeftAlone()
    {
        var key = $"team/02_processing/{FileId}-data.csv";
        var facts = Facts with { Metadata = ImmutableDictionary<string, string>.Empty.Add("id", FileId).Add("status", "Complete") };

        Assert.IsType<NoJob>(Decide(new NoJob(), Seen(key, facts)).State);
    }

    [Fact]
    public void AKeyThatCannotBeRenamed_IsRejectedWithTheReason_AndNothingIsTracked()
    {
        // 200 bytes fit a file name, but not once prefixed with '<uuid>-' and suffixed for the error log.
        var longName = "team/01_inbox/" + new string('x', 200);
        var decision = Decide(new NoJob(), Seen(longName));

        Assert.IsType<NoJob>(decision.State);
        var reason = Assert.IsType<Reject>(Assert.Single(decision.Effects)).Reason;
        Assert.Contains(longName, reason, StringComparison.Ordinal);
        Assert.Contains("bytes", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NoMatch_LeavesTheFileQueuedInItsInbox()
    {
        var decision = Decide(QueuedState(), new NoMatch());

        Assert.IsType<Queued>(decision.State);
        Assert.Empty(decision.Effects);
    }

    [Fact]
    public void AMatchedFile_WaitsForASlotInItsInbox_StillQueued_AndNotAnAttempt()
    {
        var decision = Decide(QueuedState(), Match());

        var waiting = Assert.IsType<WaitingForSlot>(decision.State);
        Assert.False(decision.Persist);
        Assert.Equal(FileStatus.Queued, waiting.File.Status);
        Assert.Equal(0, waiting.File.Attempts);
        Assert.EndsWith("01_inbox/" + FileId + "-data.csv", waiting.File.FileName, StringComparison.Ordinal);
        Assert.Equal(new RequestSlot("job-1", "team/cfg.toml", null), Assert.Single(decision.Effects));
    }

    [Fact]
    public void TheGrantedSlot_StartsAttemptOne_AfterMovingToProcessingAndAnnouncingTheJob()
    {
        var waiting = Decide(QueuedState(), Match()).State;
        var decision = Decide(waiting, new SlotGranted("job-1"));

        var running = Assert.IsType<Running>(decision.State);
        Assert.True(decision.Persist);
        Assert.Equal(1, running.File.Attempts);
        Assert.Equal(FileStatus.Processing, running.File.Status);
        Assert.Equal($"team/02_processing/{FileId}-data.csv", running.File.FileName);
        Assert.Collection(
            decision.Effects,
            e => Assert.Equal($"team/02_processing/{FileId}-data.csv", Assert.IsType<MoveObject>(e).To),
            e => Assert.Equal(JobEvent.Created("job-1", $"{FileId}-data.csv", "cfg.toml", "alice"), Assert.IsType<PublishJobEvent>(e).Event),
            e => Assert.Equal(FileStatus.Processing, Assert.IsType<WriteStatus>(e).Record.Status),
            e => Assert.Equal(1, Assert.IsType<StartRun>(e).Attempt));
    }

    [Fact]
    public void AGrantForAnotherJob_StartsNothing()
    {
        var waiting = Decide(QueuedState(), Match()).State;
        var decision = Decide(waiting, new SlotGranted("job-0"));

        Assert.Same(waiting, decision.State);
        Assert.Empty(decision.Effects);
    }

    [Fact]
    public void Success_ArchivesTheFile_WritesTheStatus_AndPublishesSuccess()
    {
        var running = RunningState();
        var decision = Decide(running, new RunEnded("job-1", 1, ProcessorOutcomeKind.Succeeded, null, "", false));

        var finalizing = Assert.IsType<Finalizing>(decision.State);
        Assert.True(decision.Persist);
        Assert.Equal($"team/03_archive/{FileId}-data.csv", finalizing.Destination);
        Assert.Equal([FileStatus.Queued, FileStatus.Processing, FileStatus.Complete], finalizing.File.Transitions.Select(t => t.Status));
        Assert.Collection(
            decision.Effects,
            e => Assert.Equal("Complete", Assert.IsType<MoveObject>(e).Metadata["status"]),
            e => Assert.Equal(FileStatus.Complete, Assert.IsType<WriteStatus>(e).Record.Status),
            e => Assert.Equal(JobEvent.StatusUpdate("job-1", "success"), Assert.IsType<PublishJobEvent>(e).Event));

        var final = Decide(finalizing, new Finalized());
        Assert.IsType<Final>(final.State);
        Assert.True(final.Persist);
        Assert.Equal(T0 + TimeSpan.FromHours(1), FileJobMachine.WakeAt(final.State, T0, Policy));
        Assert.Null(FileJobMachine.WakeAt(QueuedState(), T0, Policy));
        Assert.Equal(T0 + TimeSpan.FromMinutes(1), FileJobMachine.WakeAt(Decide(new NoJob(), Seen()).State, T0, Policy));
        Assert.Equal(T0 + TimeSpan.FromMinutes(2), FileJobMachine.WakeAt(RunningState(), T0, Policy));
    }

    [Fact]
    public void ARetryableFailure_BacksOff_ThenAsksForASlotAgain_AndTheNextAttemptIsTwo()
    {
        var running = RunningState();
        var backoff = Decide(running, new RunEnded("job-1", 1, ProcessorOutcomeKind.Failed, "exit 1", "out", true));

        var state = Assert.IsType<Backoff>(backoff.State);
        Assert.Equal(T0 + TimeSpan.FromSeconds(2), state.Due);
        Assert.Equal(state.Due, FileJobMachine.WakeAt(state, T0, Policy));

        var early = Decide(state, new Resume(false), T0 + TimeSpan.FromSeconds(1));
        Assert.Same(state, early.State);

        var waiting = Decide(state, new Resume(false), T0 + TimeSpan.FromSeconds(2));
        Assert.IsType<WaitingForSlot>(waiting.State);
        Assert.Contains(new RequestSlot("job-1", "team/cfg.toml", null), waiting.Effects);

        var second = Decide(waiting.State, new SlotGranted("job-1"));
        Assert.Equal(2, second.State.File.Attempts);
        Assert.DoesNotContain(second.Effects, e => e is PublishJobEvent);
    }

    [Fact]
    public void FailureAtMaxAttempts_EndsFailed_WithAnErrorLogNamingTheReasonAndOutput()
    {
        var running = RunningState(maxAttempts: 1);
        var decision = Decide(running, new RunEnded("job-1", 1, ProcessorOutcomeKind.Failed, "exit 3", "the output", true));

        var finalizing = Assert.IsType<Finalizing>(decision.State);
        Assert.Equal(FileStatus.Failed, finalizing.Status);
        Assert.Equal($"team/04_failed/{FileId}-data.csv", finalizing.Destination);
        var log = Assert.IsType<WriteErrorLog>(decision.Effects[0]);
        Assert.Equal($"team/04_failed/{FileId}-data_csv_error_log_.txt", log.Key);
        Assert.Contains("exit 3", log.Text, StringComparison.Ordinal);
        Assert.Contains("the output", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void AStaleOutcome_OfAnotherAttempt_IsIgnored()
    {
        var running = RunningState();
        Assert.Same(running, Decide(running, new RunEnded("job-1", 2, ProcessorOutcomeKind.Succeeded, null, "", false)).State);
        Assert.Same(running, Decide(running, new RunEnded("job-0", 1, ProcessorOutcomeKind.Succeeded, null, "", false)).State);
    }

    [Fact]
    public void AnAttemptLostWithItsSilo_RunsAgain_WithoutCountingAsAnAttempt()
    {
        var running = RunningState(maxAttempts: 1);
        var redo = Decide(running, new Resume(RunAlive: false));
        Assert.Equal((running.FromKey, running.File.FileName), (Assert.IsType<MoveObject>(Assert.Single(redo.Effects)).From, ((MoveObject)redo.Effects[0]).To));
        var decision = Decide(redo.State, redo.Then!);

        var backoff = Assert.IsType<Backoff>(decision.State);
        Assert.True(decision.Persist);
        Assert.Equal(0, backoff.File.Attempts);
        Assert.Equal(1, backoff.File.Interruptions);
        Assert.Equal(new Resume(false), decision.Then);
        Assert.Same(running, Decide(running, new Resume(RunAlive: true)).State);
    }

    [Fact]
    public void AFileThatKeepsKillingItsSilo_IsFailed_AfterMaxInterruptions()
    {
        FileJobState state = RunningState();
        for (var i = 0; i < Policy.MaxInterruptions; i++)
        {
            state = Decide(state, new Interrupt()).State;
            state = Decide(state, new Resume(false)).State;
            state = Decide(state, new SlotGranted("job-1")).State;
        }

        var decision = Decide(state, new Interrupt());
        var finalizing = Assert.IsType<Finalizing>(decision.State);
        Assert.Equal(FileStatus.Failed, finalizing.Status);
        Assert.Contains("interrupted 3 times", finalizing.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CancelWhileQueued_MovesToTheOwnersCanceledFolder()
    {
        var decision = Decide(QueuedState(), new Cancel("not wanted", new OwnerConfig("team/cfg.toml", Config)));

        var finalizing = Assert.IsType<Finalizing>(decision.State);
        Assert.Equal(new CommandAnswer(true, "canceled"), decision.Answer);
        Assert.Equal($"team/05_canceled/{FileId}-data.csv", finalizing.Destination);
        Assert.Equal("not wanted", finalizing.File.Reason);
    }

    [Fact]
    public void CancelWhileArriving_FinishesTheArrivalFirst_SoTheFileIsNeverStranded()
    {
        var arriving = (Arriving)Decide(new NoJob(), Seen()).State;
        var decision = Decide(arriving, new Cancel("stop", null));

        Assert.IsType<Queued>(decision.State);
        Assert.IsType<MoveObject>(decision.Effects[0]);
        Assert.IsType<Cancel>(decision.Then);
    }

    [Fact]
    public void CancelWhileRunning_AsksTheProcessorToStop_ThenEndsCanceled_EvenIfItReportsAFailure()
    {
        var running = RunningState();
        var requested = Decide(running, new Cancel("stop", null));

        Assert.True(requested.Persist);
        Assert.Equal(new CancelRun("job-1"), Assert.Single(requested.Effects));
        Assert.True(requested.Answer!.Accepted);
        var ended = Decide(requested.State, new RunEnded("job-1", 1, ProcessorOutcomeKind.Failed, "killed", "", true));
        Assert.Equal(FileStatus.Canceled, Assert.IsType<Finalizing>(ended.State).Status);
    }

    [Fact]
    public void CancelOfAFinalFile_IsRefused_NamingItsStatus()
    {
        var final = Decide(Decide(RunningState(), new RunEnded("job-1", 1, ProcessorOutcomeKind.Succeeded, null, "", false)).State, new Finalized()).State;
        var decision = Decide(final, new Cancel("x", null));

        Assert.Same(final, decision.State);
        Assert.Equal(new CommandAnswer(false, "a Complete file cannot be canceled"), decision.Answer);
    }

    [Fact]
    public void RetryOfAFailedFile_MovesItBackToItsInboxKey_AsANewJob()
    {
        var failed = Decide(Decide(RunningState(maxAttempts: 1), new RunEnded("job-1", 1, ProcessorOutcomeKind.Failed, "x", "", false)).State, new Finalized()).State;
        var decision = Decide(failed, new Retry(null));

        var arriving = Assert.IsType<Arriving>(decision.State);
        Assert.True(decision.Answer!.Accepted);
        Assert.Equal($"team/04_failed/{FileId}-data.csv", arriving.FromKey);
        Assert.Equal($"team/01_inbox/{FileId}-data.csv", arriving.File.FileName);
        Assert.Null(arriving.File.JobId);
        Assert.Equal(0, arriving.File.Attempts);
        Assert.Equal(FileStatus.Queued, arriving.File.Status);
    }

    [Fact]
    public void RetryOfAnExpiredJob_UsesTheStatusStoresRecord()
    {
        var failed = Decide(Decide(RunningState(maxAttempts: 1), new RunEnded("job-1", 1, ProcessorOutcomeKind.Failed, "x", "", false)).State, new Finalized()).State;
        var decision = Decide(new NoJob(), new Retry(failed.Record));

        Assert.IsType<Arriving>(decision.State);
        Assert.True(decision.Answer!.Accepted);
    }

    [Fact]
    public void AFinalJob_IsClearedAfterRetention_AndNotBefore()
    {
        var final = (Final)Decide(Decide(RunningState(), new RunEnded("job-1", 1, ProcessorOutcomeKind.Succeeded, null, "", false)).State, new Finalized()).State;

        Assert.Same(final, Decide(final, new Resume(false), T0 + TimeSpan.FromMinutes(59)).State);
        var expired = Decide(final, new Resume(false), T0 + TimeSpan.FromHours(1));
        Assert.IsType<NoJob>(expired.State);
        Assert.Contains(new ClearState(), expired.Effects);
    }

    [Fact]
    public void ANewUploadUnderAFinishedIdentity_IsForwardedToASuccessorJob()
    {
        var final = Decide(Decide(RunningState(), new RunEnded("job-1", 1, ProcessorOutcomeKind.Succeeded, null, "", false)).State, new Finalized()).State;
        var decision = Decide(final, Seen());

        var forward = Assert.IsType<ForwardTo>(Assert.Single(decision.Effects));
        Assert.Equal(FileIds.Successor(FileId), forward.FileId);
        Assert.NotEqual(FileId, forward.FileId);
    }

    [Fact]
    public void FileIds_AreDeterministicPerUpload_AndValidUuids()
    {
        Assert.Equal(FileIds.ForDrop("etl", "a/b.csv", "v1"), FileIds.ForDrop("etl", "a/b.csv", "v1"));
        Assert.NotEqual(FileIds.ForDrop("etl", "a/b.csv", "v1"), FileIds.ForDrop("etl", "a/b.csv", "v2"));
        Assert.NotEqual(FileIds.ForDrop("etl", "a/b.csv", "v1"), FileIds.ForDrop("etl", "a/c.csv", "v1"));
        Assert.True(FileIds.IsValid(FileIds.ForDrop("etl", "a/b.csv", "v1")));
        Assert.False(FileIds.IsValid("not-an-id"));
        Assert.Null(FileIds.OfRenamed("a/x-b.csv", ImmutableDictionary<string, string>.Empty.Add("id", "x")));
    }
}
