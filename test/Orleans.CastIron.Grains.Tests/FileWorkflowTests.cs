using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains.State;

namespace Orleans.CastIron.Grains.Tests;

[Collection(WorkflowCollection.Name)]
public class FileWorkflowTests(WorkflowFixture fixture)
{
    private WorkflowHost Host => fixture.Host;

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    private async Task<RegisteredConfig> RegisterAsync(string folder, string config, string name = "cfg.toml")
    {
        var key = $"{folder}/{name}";
        await Host.DropAsync(key, config);
        RegisteredConfig? entry = null;
        await WorkflowHost.WaitUntilAsync(async () =>
        {
            entry = (await Host.Grains.GetGrain<IProcessorRegistryGrain>(WorkflowHost.Bucket).GetConfigsAsync()).FirstOrDefault(c => c.ConfigKey == key);
            return entry is not null;
        }, null, () => $"config '{key}' to be read");
        if (entry!.Registered)
        {
            // Stage folders are created after the entry is saved, the canceled folder last.
            var canceled = $"{folder}/{entry.Config!.CanceledDir}/.keep";
            await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Host.Exists(canceled)), null, () => canceled);
        }

        return entry;
    }

    private Task<IReadOnlyList<JobEvent>> EventsAsync(FileStatusRecord record) => Host.JobEvents.EventsAsync(record.JobId!);

    [Fact]
    public async Task SeedExample_ConfigCreatesStageFolders_AndTheCsvIsProcessedAndArchived()
    {
        var folder = Configs.Folder();
        var entry = await RegisterAsync(folder, Fixture("example_config.toml"), "example_config.toml");
        Assert.True(entry.Registered, entry.Note);
        foreach (var stage in new[] { "01_inbox", "02_processing", "03_archive", "04_failed", "05_canceled" })
        {
            Assert.True(Host.Exists($"{folder}/{stage}/.keep"), $"{stage}/.keep");
        }

        await Host.DropAsync($"{folder}/01_inbox/test.csv", Fixture("test.csv"));
        var record = await Host.WaitForStatusAsync(folder, "test.csv", FileStatus.Complete);

        var archived = $"{folder}/03_archive/{record.Id}-test.csv";
        Assert.Equal(archived, record.FileName);
        Assert.Equal([$"{folder}/01_inbox/.keep"], Host.List($"{folder}/01_inbox"));
        Assert.Equal([$"{folder}/02_processing/.keep"], Host.List($"{folder}/02_processing"));
        var stat = await Host.Store.StatAsync(WorkflowHost.Bucket, archived);
        Assert.NotNull(stat);
        Assert.Equal("test.csv", stat.Metadata["originalfilename"]);
        Assert.Equal(record.Id, stat.Metadata["id"]);
        Assert.Equal("Complete", stat.Metadata["status"]);
        Assert.Equal([FileStatus.Queued, FileStatus.Processing, FileStatus.Complete], record.Transitions.Select(t => t.Status));
        Assert.Equal($"{folder}/example_config.toml", record.ConfigKey);
        Assert.Equal(
            [
                JobEvent.Created(record.JobId!, $"{record.Id}-test.csv", "example_config.toml", "castiron"),
                JobEvent.TaskUpdate(record.JobId!, "etl.example.example_text_processor.process runs as the built-in .NET stand-in"),
                JobEvent.CommittedUpdate(record.JobId!, 91),
                JobEvent.StatusUpdate(record.JobId!, "success"),
            ],
            (await EventsAsync(record)));
    }

    [Fact]
    public async Task FailingProcessor_MovesTheFileToTheErrorFolder_WithANonEmptyErrorLog()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.fail", extraEtl: "max_attempts = 1"));

        await Host.DropAsync($"{folder}/01_inbox/data.v1.csv", "a,b\n");
        var record = await Host.WaitForStatusAsync(folder, "data.v1.csv", FileStatus.Failed);

        Assert.Equal($"{folder}/04_failed/{record.Id}-data.v1.csv", record.FileName);
        Assert.True(Host.Exists(record.FileName));
        Assert.Equal($"{folder}/04_failed/{record.Id}-data_v1_csv_error_log_.txt", record.ErrorLogKey);
        var log = await File.ReadAllTextAsync(Path.Combine(Host.BucketPath, record.ErrorLogKey!));
        Assert.Contains("boom from test processor", log, StringComparison.Ordinal);
        Assert.Contains("about to fail on purpose", log, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException", record.Reason, StringComparison.Ordinal);
        Assert.Equal(JobEvent.StatusUpdate(record.JobId!, "failure"), (await EventsAsync(record))[^1]);
        Assert.Equal("Failed", (await Host.Store.StatAsync(WorkflowHost.Bucket, record.FileName))!.Metadata["status"]);
    }

    [Fact]
    public async Task FailingProcessor_WithoutSaveErrorLog_WritesNoLog()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.fail", extraEtl: "max_attempts = 1", saveErrorLog: false));

        await Host.DropAsync($"{folder}/01_inbox/x.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "x.csv", FileStatus.Failed);

        Assert.Null(record.ErrorLogKey);
        Assert.Equal([record.FileName, $"{folder}/04_failed/.keep"], Host.List($"{folder}/04_failed").OrderDescending());
    }

    [Fact]
    public async Task TransientFailures_AreRetried_UpToMaxAttempts()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.flaky", extraEtl: "max_attempts = 3", extraTables: "static_kwargs = { succeed_on_attempt = 3 }"));

        await Host.DropAsync($"{folder}/01_inbox/flaky.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "flaky.csv", FileStatus.Complete);

        Assert.Equal(3, record.Attempts);
        Assert.Equal(3, TestProcessors.Calls[record.Id]);
    }

    [Fact]
    public async Task TransientFailures_BeyondMaxAttempts_EndFailedWithTheReason()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.flaky", extraEtl: "max_attempts = 2", extraTables: "static_kwargs = { succeed_on_attempt = 5 }"));

        await Host.DropAsync($"{folder}/01_inbox/flaky.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "flaky.csv", FileStatus.Failed);

        Assert.Equal(2, record.Attempts);
        Assert.Equal(2, TestProcessors.Calls[record.Id]);
        Assert.Contains("transient failure on attempt 2", record.Reason, StringComparison.Ordinal);
        Assert.Contains("after 2 attempts", record.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeout_IsAFailure_NotACancellation()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.block", extraEtl: "max_attempts = 1\ntimeout_seconds = 0.5"));

        await Host.DropAsync($"{folder}/01_inbox/slow-{folder}.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, $"slow-{folder}.csv", FileStatus.Failed);

        Assert.Contains("timed out after 0.5 s", record.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"{folder}/04_failed/", record.FileName, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelRunning_StopsTheProcessor_AndMovesTheFileToCanceled()
    {
        var folder = Configs.Folder();
        var name = $"long-{folder}.csv";
        await RegisterAsync(folder, Configs.Dotnet("test.block"));
        await Host.DropAsync($"{folder}/01_inbox/{name}", "a\n");
        await TestProcessors.StartedSignal(name).Task.WaitAsync(WorkflowHost.DefaultWait);
        var running = await Host.WaitForStatusAsync(folder, name, FileStatus.Processing);

        var result = await Host.Grains.GetGrain<IFileJobGrain>(running.Id).CancelAsync(null);

        Assert.True(result.Accepted, result.Message);
        var record = await Host.WaitForStatusAsync(folder, name, FileStatus.Canceled);
        Assert.Equal($"{folder}/05_canceled/{record.Id}-{name}", record.FileName);
        Assert.True(Host.Exists(record.FileName));
        Assert.Equal(JobEvent.StatusUpdate(record.JobId!, "canceled"), (await EventsAsync(record))[^1]);
        Assert.Equal(1, record.Attempts);
    }

    [Fact]
    public async Task NoMatch_StaysQueuedWithoutJobEvents_AndCanBeCanceled()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop", glob: ".csv|.CSV"));

        await Host.DropAsync($"{folder}/01_inbox/notes.txt", "hello");
        var record = await Host.WaitForStatusAsync(folder, "notes.txt", FileStatus.Queued);
        Assert.Equal($"{folder}/01_inbox/{record.Id}-notes.txt", record.FileName);
        Assert.Null(record.JobId);

        var result = await Host.Grains.GetGrain<IFileJobGrain>(record.Id).CancelAsync("not wanted");

        Assert.True(result.Accepted, result.Message);
        var canceled = await Host.WaitForStatusAsync(folder, "notes.txt", FileStatus.Canceled);
        Assert.Equal($"{folder}/05_canceled/{record.Id}-notes.txt", canceled.FileName);
        Assert.Equal("not wanted", canceled.Reason);
        Assert.True(Host.Exists(canceled.FileName));
    }

    [Fact]
    public async Task FileInASubfolderOfTheInbox_IsLeftAlone()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));
        await Host.DropAsync($"{folder}/01_inbox/sub/deep.csv", "a\n");
        await Host.DropAsync($"{folder}/01_inbox/marker.csv", "a\n");

        await Host.WaitForStatusAsync(folder, "marker.csv", FileStatus.Complete);

        Assert.True(Host.Exists($"{folder}/01_inbox/sub/deep.csv"));
        Assert.DoesNotContain(await Host.FilesAsync(folder), r => r.OriginalFilename == "deep.csv");
    }

    [Fact]
    public async Task FilesOutsideRegisteredInboxes_AreNotRenamed()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));
        await Host.DropAsync($"{folder}/elsewhere/a.csv", "a\n");
        await Host.DropAsync($"{folder}/01_inbox/marker.csv", "a\n");

        await Host.WaitForStatusAsync(folder, "marker.csv", FileStatus.Complete);

        Assert.Equal([$"{folder}/elsewhere/a.csv"], Host.List($"{folder}/elsewhere"));
    }

    [Fact]
    public async Task DisabledConfig_IsUnregistered_AndNewDropsStayUntouched()
    {
        var folder = Configs.Folder();
        Assert.True((await RegisterAsync(folder, Configs.Dotnet("test.noop"))).Registered);

        var disabled = Configs.Dotnet("test.noop").Replace("enabled = true", "enabled = false", StringComparison.Ordinal);
        await Host.DropAsync($"{folder}/cfg.toml", disabled);
        await Host.WaitForConfigAsync($"{folder}/cfg.toml", c => c is { Registered: false }, "the disabled config to be unregistered");
        await Host.DropAsync($"{folder}/01_inbox/late.csv", "a\n");
        await AssertStaysUntouchedAsync(folder, $"{folder}/01_inbox/late.csv");

        var entry = (await Host.Grains.GetGrain<IProcessorRegistryGrain>(WorkflowHost.Bucket).GetConfigsAsync()).Single(c => c.ConfigKey == $"{folder}/cfg.toml");
        Assert.Contains("disabled", entry.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletedConfig_IsForgotten_AndNewDropsStayUntouched()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));

        Host.Delete($"{folder}/cfg.toml");
        await Host.WaitForConfigAsync($"{folder}/cfg.toml", c => c is null, "the deleted config to be forgotten");
        await Host.DropAsync($"{folder}/01_inbox/late.csv", "a\n");

        await AssertStaysUntouchedAsync(folder, $"{folder}/01_inbox/late.csv");
    }

    [Fact]
    public async Task InvalidConfig_ReplacingAValidOne_IsUnregistered_WithItsErrorsKept()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));

        await Host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop").Replace("inbox_dir", "inbox_dri", StringComparison.Ordinal));
        var entry = await Host.WaitForConfigAsync($"{folder}/cfg.toml", c => c is { Errors.IsEmpty: false, Warnings.IsEmpty: false }, "the invalid config's errors and warning");

        Assert.False(entry!.Registered);
        // The typo itself only warns (the seed ignored unknown keys); the key it should have been is missing.
        Assert.Contains(entry.Warnings, e => e.Code == ConfigErrorCode.UnknownKey && e.Key == "castiron.etl.inbox_dri" && e.Line == 4);
        Assert.Contains(entry.Errors, e => e.Code == ConfigErrorCode.MissingKey && e.Key == "castiron.etl.inbox_dir");
        var published = Assert.Single(await Host.JobEvents.EventsAsync($"{folder}/cfg.toml"));
        Assert.Equal(JobEventType.ConfigError, published.Type);
        Assert.Equal(entry.Errors.Select(e => e.ToString()), published.Errors);
        await Host.DropAsync($"{folder}/01_inbox/late.csv", "a\n");
        await AssertStaysUntouchedAsync(folder, $"{folder}/01_inbox/late.csv");
    }

    [Fact]
    public async Task TwoConfigsOnOneInbox_TheFirstRegisteredWins()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.fail", extraEtl: "max_attempts = 1"), "b-first.toml");
        await RegisterAsync(folder, Configs.Dotnet("test.noop"), "a-second.toml");

        await Host.DropAsync($"{folder}/01_inbox/both.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "both.csv", FileStatus.Failed);

        Assert.Equal($"{folder}/b-first.toml", record.ConfigKey);
    }

    [Fact]
    public async Task ReplayedAndDuplicatedEvents_ChangeNothing()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.succeed"));
        await Host.DropAsync($"{folder}/01_inbox/once.csv", "a\nb\n");
        var record = await Host.WaitForStatusAsync(folder, "once.csv", FileStatus.Complete);
        var eventsBefore = (await EventsAsync(record)).Count;

        var drop = new Events.BucketEvent { EventName = "s3:ObjectCreated:Put", Bucket = WorkflowHost.Bucket, Key = $"{folder}/01_inbox/once.csv" };
        var renamed = drop with { EventName = "s3:ObjectCreated:Copy", Key = $"{folder}/01_inbox/{record.Id}-once.csv" };
        var intake = Host.Services.GetRequiredService<Services.IntakeService>();
        foreach (var replay in new[] { drop, renamed, drop, renamed })
        {
            await intake.RouteAsync(replay, CancellationToken.None);
            await Host.Grains.GetGrain<IFileJobGrain>(record.Id).ObjectSeenAsync(replay);
        }

        await Host.Grains.GetGrain<IFileJobGrain>(record.Id).ResumeAsync();

        var after = Assert.Single(await Host.FilesAsync(folder));
        Assert.Equal(FileStatus.Complete, after.Status);
        Assert.Equal(record.Transitions.AsEnumerable(), after.Transitions.AsEnumerable());
        Assert.Equal(1, TestProcessors.Calls[record.Id]);
        Assert.Equal(eventsBefore, (await EventsAsync(record)).Count);
        Assert.Equal(
            [
                JobEvent.Created(record.JobId!, $"{record.Id}-once.csv", "cfg.toml", "castiron"),
                JobEvent.TaskUpdate(record.JobId!, "reading"),
                JobEvent.ProgressUpdate(record.JobId!, 0.5),
                JobEvent.CommittedUpdate(record.JobId!, 2),
                JobEvent.StatusUpdate(record.JobId!, "success"),
            ],
            (await EventsAsync(record)));
    }

    [Fact]
    public async Task RetryOfAFailedFile_ProcessesItAgain()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.flaky", extraEtl: "max_attempts = 1", extraTables: "static_kwargs = { succeed_on_attempt = 2 }"));
        await Host.DropAsync($"{folder}/01_inbox/again.csv", "a\n");
        var failed = await Host.WaitForStatusAsync(folder, "again.csv", FileStatus.Failed);

        // The flaky processor counts attempts per job; a retry starts a new job, so make the next one succeed.
        await Host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop", extraEtl: "max_attempts = 1"));
        await Host.WaitForConfigAsync($"{folder}/cfg.toml", c => c?.Config?.Dotnet?.Processor == "test.noop", "the replaced config");
        var result = await Host.Grains.GetGrain<IFileJobGrain>(failed.Id).RetryAsync(null);

        Assert.True(result.Accepted, result.Message);
        var done = await Host.WaitForStatusAsync(folder, "again.csv", FileStatus.Complete);
        Assert.Equal(
            [FileStatus.Queued, FileStatus.Processing, FileStatus.Failed, FileStatus.Queued, FileStatus.Processing, FileStatus.Complete],
            done.Transitions.Select(t => t.Status));
        Assert.NotEqual(failed.JobId, done.JobId);
        Assert.Equal($"{folder}/03_archive/{failed.Id}-again.csv", done.FileName);
        Assert.False(Host.Exists(failed.FileName));
    }

    [Fact]
    public async Task Commands_OnFilesThatCannotTakeThem_AreRefusedWithAReason()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));
        await Host.DropAsync($"{folder}/01_inbox/done.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "done.csv", FileStatus.Complete);
        var grain = Host.Grains.GetGrain<IFileJobGrain>(record.Id);

        var cancel = await grain.CancelAsync(null);
        var retry = await grain.RetryAsync(null);
        var unknown = await Host.Grains.GetGrain<IFileJobGrain>(FileIds.ForDrop(WorkflowHost.Bucket, $"{folder}/nothing.csv", "none")).CancelAsync(null);

        Assert.False(cancel.Accepted);
        Assert.Contains("Complete", cancel.Message, StringComparison.Ordinal);
        Assert.False(retry.Accepted);
        Assert.False(unknown.Accepted);
        Assert.Null(unknown.Status);
    }

    [Fact]
    public async Task QueuedFile_IsTakenWhenAMatchingConfigArrivesLater()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop", glob: ".tsv"));
        await Host.DropAsync($"{folder}/01_inbox/early.csv", "a\n");
        await Host.WaitForStatusAsync(folder, "early.csv", FileStatus.Queued);

        await Host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop", glob: ".tsv|.csv"));

        await Host.WaitForStatusAsync(folder, "early.csv", FileStatus.Complete);
    }

    [Fact]
    public async Task ConfigsThatWouldFeedEachOther_TheSecondIsRefused_NamingTheFolder_AndNoFileGoesRound()
    {
        var folder = Configs.Folder();
        static string Config(string inbox, string archive) => $"""
            [castiron.etl]
            enabled = true
            handled_file_glob = ".csv"
            inbox_dir = "{inbox}"
            processing_dir = "{inbox}_work"
            archive_dir = "{archive}"
            error_dir = "{inbox}_failed"
            canceled_dir = "{inbox}_canceled"
            save_error_log = true
            [castiron.etl.dotnet]
            processor = "test.noop"
            """;
        var a = await RegisterAsync(folder, Config("a_in", "b_in"), "a.toml");
        var b = await RegisterAsync(folder, Config("b_in", "a_in"), "b.toml");

        Assert.True(a.Registered, a.Note);
        Assert.False(b.Registered);
        Assert.Contains(b.Errors, e => e.Message.Contains("inbox folder", StringComparison.Ordinal) && e.Message.Contains($"'{folder}/b_in'", StringComparison.Ordinal));

        await Host.DropAsync($"{folder}/a_in/ping.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "ping.csv", FileStatus.Complete);
        Assert.Equal($"{folder}/b_in/{record.Id}-ping.csv", record.FileName);
        // The archived file carries its id: nothing renames or takes it again.
        await Task.Delay(1000);
        Assert.Equal([$"{folder}/b_in/.keep", record.FileName], Host.List($"{folder}/b_in"));
        Assert.Single(await Host.FilesAsync(folder));
    }

    [Fact]
    public async Task TwoConfigsOnOneInbox_BothRegister_AndTheSecondSaysItSharesTheInbox()
    {
        var folder = Configs.Folder();
        var first = await RegisterAsync(folder, Configs.Dotnet("test.noop", glob: ".csv"), "first.toml");
        var second = await RegisterAsync(folder, Configs.Dotnet("test.noop", glob: ".tsv"), "second.toml");

        Assert.True(first.Registered);
        Assert.True(second.Registered);
        Assert.Contains($"shares its inbox with '{folder}/first.toml'", second.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdenticalReuploads_AfterTheFirstFinished_AreEachProcessed_AsNewFiles()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));
        var stamp = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var upload = 1; upload <= 3; upload++)
        {
            // Same name, same content, same modification time: the same object version each time.
            var staged = Path.Combine(Host.Root, $"same-{folder}-{upload}.csv");
            await File.WriteAllTextAsync(staged, "same\n");
            File.SetLastWriteTimeUtc(staged, stamp);
            File.Move(staged, Path.Combine(Host.BucketPath, folder, "01_inbox", "same.csv"));
            await WorkflowHost.WaitUntilAsync(
                async () => (await Host.FilesAsync(folder)).Count(r => r.OriginalFilename == "same.csv" && r.Status == FileStatus.Complete) == upload,
                null,
                () => $"upload {upload} Complete");
        }

        var records = (await Host.FilesAsync(folder)).Where(r => r.OriginalFilename == "same.csv").ToList();
        Assert.Equal(3, records.Select(r => r.Id).Distinct().Count());
        Assert.All(records, r => Assert.Equal(1, TestProcessors.Calls[r.Id]));
        // The same identity each time: each new upload went to the successor of the job before it.
        var ordered = records.OrderBy(r => r.CreatedAt).Select(r => r.Id).ToList();
        Assert.Equal(FileIds.Successor(ordered[0]), ordered[1]);
        Assert.Equal(FileIds.Successor(ordered[1]), ordered[2]);
    }

    [Fact]
    public async Task QueuedFileRemovedByAUser_EndsCanceled()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop", glob: ".tsv"));
        await Host.DropAsync($"{folder}/01_inbox/gone.csv", "a\n");
        var queued = await Host.WaitForStatusAsync(folder, "gone.csv", FileStatus.Queued);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Host.Exists(queued.FileName)), null, () => "the renamed file");

        Host.Delete(queued.FileName);

        var canceled = await Host.WaitForStatusAsync(folder, "gone.csv", FileStatus.Canceled);
        Assert.Contains("removed", canceled.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("etl.not_there.process", "could not load the Python code: ModuleNotFoundError: No module named 'etl'")]
    [InlineData("castiron_nowhere.process", "could not load the Python code: ModuleNotFoundError: No module named 'castiron_nowhere'")]
    public async Task UnknownProcessorName_RunsOnPython_AndFailsTheFileWithAClearLog(string name, string reason)
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Python($"worker_run_method = \"{name}\""));

        await Host.DropAsync($"{folder}/01_inbox/x.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "x.csv", FileStatus.Failed);

        Assert.Equal(reason, record.Reason);
        Assert.Equal(1, record.Attempts); // not retried: another attempt cannot import it either
        Assert.Contains("Traceback", await File.ReadAllTextAsync(Path.Combine(Host.BucketPath, record.ErrorLogKey!)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeedProcessFileStub_IsBuiltIn()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Python("worker_run_method = \"etl.util.process_file_stub\"", kwargs: "example_kwarg_1 = \"just a kwarg\""));

        await Host.DropAsync($"{folder}/01_inbox/x.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "x.csv", FileStatus.Complete);

        Assert.Contains(JobEvent.TaskUpdate(record.JobId!, "etl.util.process_file_stub runs as the built-in .NET stand-in"), await EventsAsync(record));
    }

    [Fact]
    public async Task WorkerSetupMethod_OnADotnetProcessor_IsCalledWithTheNamedArguments_OrFailsTheFileSayingSo()
    {
        static string Config(string workerClass, string method = "run") => Configs.Python(
            $"worker_class = \"{workerClass}\"\nworker_run_method = \"{method}\"\nworker_setup_method = \"setup\"\nsupports_metadata = true",
            kwargs: "level = 3");
        var withSetup = Configs.Folder();
        await RegisterAsync(withSetup, Config("tests.SetupWorker"));
        var without = Configs.Folder();
        await RegisterAsync(without, Config("test", "succeed"));

        await Host.DropAsync($"{withSetup}/01_inbox/s.csv", "a\n");
        var done = await Host.WaitForStatusAsync(withSetup, "s.csv", FileStatus.Complete);
        await Host.DropAsync($"{without}/01_inbox/n.csv", "a\n");
        var refused = await Host.WaitForStatusAsync(without, "n.csv", FileStatus.Failed);

        var (method, arguments) = SetupWorkerProcessor.Setups[done.Id];
        Assert.Equal("setup", method);
        Assert.Equal(3L, arguments["level"]);
        // As in the seed, the run gets what the set-up did not: the metadata.
        Assert.Equal(["file_metadata"], TestProcessors.Contexts[done.Id].Arguments.Keys);
        Assert.Equal("worker_setup_method 'setup' is set, but the .NET processor 'test.succeed' has no set-up (it does not implement IFileProcessorSetup)", refused.Reason);
        Assert.Equal(1, refused.Attempts);
    }

    [Fact]
    public async Task UserSetStatusMetadata_DoesNotHideAFile()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Dotnet("test.noop"));
        using var content = new MemoryStream("a\n"u8.ToArray());
        await Host.Store.WriteAsync(WorkflowHost.Bucket, $"{folder}/01_inbox/sneaky.csv", content, new Dictionary<string, string>
        {
            ["status"] = "Complete",
            ["originalfilename"] = "other.csv",
            ["id"] = "00000000-0000-0000-0000-000000000000",
        });

        var record = await Host.WaitForStatusAsync(folder, "sneaky.csv", FileStatus.Complete);

        Assert.NotEqual("00000000-0000-0000-0000-000000000000", record.Id);
    }

    private async Task AssertStaysUntouchedAsync(string folder, string key)
    {
        // A second drop into a live config proves the watcher has looked at the folder since.
        var probe = Configs.Folder();
        await RegisterAsync(probe, Configs.Dotnet("test.noop"));
        await Host.DropAsync($"{probe}/01_inbox/probe.csv", "a\n");
        await Host.WaitForStatusAsync(probe, "probe.csv", FileStatus.Complete);

        Assert.True(Host.Exists(key), $"'{key}' should still be where it was dropped");
        Assert.DoesNotContain(await Host.FilesAsync(folder), r => r.OriginalFilename == ObjectKeys(key));
    }

    private static string ObjectKeys(string key) => key[(key.LastIndexOf('/') + 1)..];
}

[Collection(WorkflowCollection.Name)]
public class PluginTests(WorkflowFixture fixture)
{
    [Fact]
    public async Task ProcessorFromThePluginsFolder_IsFoundByName_AndRuns()
    {
        // Not referenced by the tests: only the plugins folder can have brought it in.
        Assert.DoesNotContain(typeof(PluginTests).Assembly.GetReferencedAssemblies(), a => a.Name == "Orleans.CastIron.TestPlugin");
        var host = fixture.Host;
        var folder = Configs.Folder();
        await host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("plugin.uppercase", extraEtl: "max_attempts = 1"));
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");

        await host.DropAsync($"{folder}/01_inbox/ok.csv", "shout");
        await host.DropAsync($"{folder}/01_inbox/empty.csv", "");

        var ok = await host.WaitForStatusAsync(folder, "ok.csv", FileStatus.Complete);
        var empty = await host.WaitForStatusAsync(folder, "empty.csv", FileStatus.Failed);
        Assert.Contains(JobEvent.TaskUpdate(ok.JobId!, "uppercased by a plugin"), await host.JobEvents.EventsAsync(ok.JobId!));
        Assert.Contains("empty file", empty.Reason, StringComparison.Ordinal);
    }
}
