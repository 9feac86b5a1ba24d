using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>Silo restarts and crashes; each test has its own cluster and data folder.</summary>
public class RecoveryTests
{
    private static async Task RegisterAsync(WorkflowHost host, string folder, string config)
    {
        await host.DropAsync($"{folder}/cfg.toml", config);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");
    }

    [Fact]
    public async Task SiloKilledMidProcessing_TheJobIsResumedAndFinished_WithoutAnyoneAsking()
    {
        var root = WorkflowHost.NewRoot();
        var folder = Configs.Folder();
        var name = $"crash-{folder}.csv";
        string fileId;
        await using (var first = await WorkflowHost.StartAsync(root))
        {
            await RegisterAsync(first, folder, Configs.Dotnet("test.block", extraEtl: "max_attempts = 3"));
            await first.DropAsync($"{folder}/01_inbox/{name}", "a\n");
            await TestProcessors.StartedSignal(name).Task.WaitAsync(WorkflowHost.DefaultWait);
            fileId = (await first.WaitForStatusAsync(folder, name, FileStatus.Processing)).Id;
            TestProcessors.Started.TryRemove(name, out _);
            await first.Cluster.KillSiloAsync(first.Cluster.Silos[0]);
        }

        // The first attempt's processor was abandoned with its silo; let the second one finish.
        TestProcessors.ReleaseSignal(name).TrySetResult();
        await using var second = await WorkflowHost.StartAsync(root);
        var record = await second.WaitForStatusAsync(folder, name, FileStatus.Complete);

        Assert.Equal(fileId, record.Id);
        // The attempt lost with its silo is run again without counting as one.
        Assert.Equal(1, record.Attempts);
        Assert.Equal(1, record.Interruptions);
        Assert.Equal([FileStatus.Queued, FileStatus.Processing, FileStatus.Complete], record.Transitions.Select(t => t.Status));
        Assert.True(second.Exists($"{folder}/03_archive/{fileId}-{name}"));
        Assert.Equal([$"{folder}/02_processing/.keep"], second.List($"{folder}/02_processing"));
    }

    [Fact]
    public async Task StateFolderDeletedWhileDown_AFileLeftInProcessing_IsTakenAgainFromItsInbox()
    {
        var root = WorkflowHost.NewRoot();
        var folder = Configs.Folder();
        var name = $"lost-{folder}.csv";
        string fileId;
        await using (var first = await WorkflowHost.StartAsync(root))
        {
            await RegisterAsync(first, folder, Configs.Dotnet("test.block", extraEtl: "max_attempts = 1"));
            await first.DropAsync($"{folder}/01_inbox/{name}", "a\n");
            await TestProcessors.StartedSignal(name).Task.WaitAsync(WorkflowHost.DefaultWait);
            fileId = (await first.WaitForStatusAsync(folder, name, FileStatus.Processing)).Id;
            await first.Cluster.KillSiloAsync(first.Cluster.Silos[0]);
        }

        // Every job state, timer and status record is gone; the bucket still holds the file with its metadata.
        // As a user's rm -rf: the silo keeps writing state meanwhile (job events, timers), so a pass can find the folder
        // refilled; it is repeated until the folder is gone.
        for (var pass = 0; Directory.Exists(Path.Combine(root, ".castiron")); pass++)
        {
            try
            {
                Directory.Delete(Path.Combine(root, ".castiron"), recursive: true);
            }
            catch (IOException) when (pass < 20)
            {
            }
        }

        TestProcessors.ReleaseSignal(name).TrySetResult();
        await using var second = await WorkflowHost.StartAsync(root);
        var record = await second.WaitForStatusAsync(folder, name, FileStatus.Complete);

        Assert.Equal(fileId, record.Id);
        Assert.Equal(name, record.OriginalFilename);
        Assert.Contains(record.Transitions, t => t.Reason?.Contains("no job state", StringComparison.Ordinal) == true);
        Assert.True(second.Exists($"{folder}/03_archive/{fileId}-{name}"));
        Assert.Equal([$"{folder}/02_processing/.keep"], second.List($"{folder}/02_processing"));
    }

    [Fact]
    public async Task StateFolderDeletedWhileRunning_TheRunningFileStillCompletes_AndTheNextOnesToo()
    {
        var root = WorkflowHost.NewRoot();
        var folder = Configs.Folder();
        var name = $"running-{folder}.csv";
        await using var host = await WorkflowHost.StartAsync(root);
        await RegisterAsync(host, folder, Configs.Dotnet("test.block", glob: ".csv"));
        await host.DropAsync($"{folder}/01_inbox/{name}", "a\n");
        await TestProcessors.StartedSignal(name).Task.WaitAsync(WorkflowHost.DefaultWait);

        // As a user's rm -rf: the silo keeps writing state meanwhile (job events, timers), so a pass can find the folder
        // refilled; it is repeated until the folder is gone.
        for (var pass = 0; Directory.Exists(Path.Combine(root, ".castiron")); pass++)
        {
            try
            {
                Directory.Delete(Path.Combine(root, ".castiron"), recursive: true);
            }
            catch (IOException) when (pass < 20)
            {
            }
        }

        TestProcessors.ReleaseSignal(name).TrySetResult();

        var record = await host.WaitForStatusAsync(folder, name, FileStatus.Complete);
        Assert.True(host.Exists(record.FileName));
        var next = $"next-{folder}.csv";
        TestProcessors.ReleaseSignal(next).TrySetResult();
        await host.DropAsync($"{folder}/01_inbox/{next}", "b\n");
        await host.WaitForStatusAsync(folder, next, FileStatus.Complete);
    }

    [Fact]
    public async Task FilesDroppedWhileTheSiloWasDown_AreTakenAtStart()
    {
        var root = WorkflowHost.NewRoot();
        var folder = Configs.Folder();
        await using (var first = await WorkflowHost.StartAsync(root))
        {
            await RegisterAsync(first, folder, Configs.Dotnet("test.noop"));
            await first.Cluster.StopAllSilosAsync();
        }

        var path = Path.Combine(root, WorkflowHost.Bucket, folder, "01_inbox", "while-down.csv");
        await File.WriteAllTextAsync(path, "a\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-1));

        await using var second = await WorkflowHost.StartAsync(root);
        var record = await second.WaitForStatusAsync(folder, "while-down.csv", FileStatus.Complete);
        Assert.Equal(1, TestProcessors.Calls[record.Id]);
    }

    [Fact]
    public async Task AWaitingFilesArrival_ReplayedAfterANewUploadOfItsName_OverwritesNothing_AndBothAreProcessed()
    {
        await using var host = await WorkflowHost.StartAsync();
        var folder = Configs.Folder();
        var blocker = $"blocker-{folder}.csv";
        var name = $"report-{folder}.csv";
        await RegisterAsync(host, folder, Configs.Dotnet("test.block", extraEtl: "max_concurrency = 1"));
        await host.DropAsync($"{folder}/01_inbox/{blocker}", "blocker\n");
        await TestProcessors.StartedSignal(blocker).Task.WaitAsync(WorkflowHost.DefaultWait);
        // The first upload waits behind the blocker, renamed in its inbox (its stored state: arriving).
        await host.DropAsync($"{folder}/01_inbox/{name}", "one\n");
        var first = await host.WaitForStatusAsync(folder, name, FileStatus.Queued);

        // The same name uploaded again while new drops are not taken; then the first job is woken again (a restart,
        // a timer, a listing), which replays its arrival.
        var intake = host.Services.GetRequiredService<Services.IntakeService>();
        Assert.True(intake.Pause());
        await host.DropAsync($"{folder}/01_inbox/{name}", "two\n");
        await host.Grains.GetGrain<IFileJobGrain>(first.Id).Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(300);
        await host.Grains.GetGrain<IFileJobGrain>(first.Id).ResumeAsync();
        Assert.True(intake.Resume());
        TestProcessors.ReleaseSignal(blocker).TrySetResult();
        TestProcessors.ReleaseSignal(name).TrySetResult();

        IReadOnlyList<FileStatusRecord> files = [];
        await WorkflowHost.WaitUntilAsync(async () => (files = await host.FilesAsync(folder)).Count(f => f.Status == FileStatus.Complete && f.OriginalFilename == name) == 2, TimeSpan.FromSeconds(60),
            () => $"both uploads of {name} Complete; seen {string.Join(", ", files.Select(f => $"{f.OriginalFilename} {f.Status} {f.Reason}"))}");
        var archived = host.List($"{folder}/03_archive").Where(k => k.EndsWith(name, StringComparison.Ordinal)).Select(k => File.ReadAllText(Path.Combine(host.BucketPath, k)).Trim()).Order(StringComparer.Ordinal);
        Assert.Equal(["one", "two"], archived);
    }

    [Fact]
    public async Task AStateWriteThatFailsWhenASlotIsGranted_NeitherStrandsTheFile_NorRunsItTwice()
    {
        // The write of Running fails once per file, before or after it landed (a timeout either way): the runner loses
        // the job's slot request, and a write that landed moved the stored version under the grain.
        await using var host = await WorkflowHost.StartAsync(configure: silo => Orleans.Runtime.Hosting.StorageProviderExtensions.AddGrainStorage(silo.Services, CastIronNames.GrainStorage, (sp, name) =>
            new FlakyRunningWrites(new Orleans.CastIron.Storage.LocalFolder.Providers.FileGrainStorage(name, Path.Combine(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.CastIron.Storage.LocalFolder.LocalFolderOptions>>().Value.RootPath, ".castiron", "state"), new Orleans.Storage.OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>())))));
        var folder = Configs.Folder();
        await RegisterAsync(host, folder, Configs.Dotnet("test.noop"));
        FlakyRunningWrites.Failed.Clear();

        for (var i = 0; i < 6; i++)
        {
            await host.DropAsync($"{folder}/01_inbox/w{i}.csv", "a\n");
        }

        IReadOnlyList<FileStatusRecord> files = [];
        // Promptly: the runner resumes the job (without that, only a recheck about 30 s later found it; with a
        // production recovery interval, much later).
        await WorkflowHost.WaitUntilAsync(async () => (files = await host.FilesAsync(folder)).Count(f => f.Status == FileStatus.Complete) == 6, TimeSpan.FromSeconds(20),
            () => $"6 files Complete; seen {string.Join(", ", files.Select(f => $"{f.OriginalFilename} {f.Status}"))}");
        Assert.True(FlakyRunningWrites.Failed.Count >= 6, $"{FlakyRunningWrites.Failed.Count} writes failed");
        Assert.All(files, f => Assert.Equal(1, TestProcessors.Calls[f.Id]));
        Assert.All(files, f => Assert.Equal(1, f.Attempts));
    }

    /// <summary>Fails the first write of each job's Running state: alternately before it is stored and after.</summary>
    private sealed class FlakyRunningWrites(IGrainStorage inner) : IGrainStorage
    {
        public static readonly System.Collections.Concurrent.ConcurrentDictionary<GrainId, bool> Failed = new();

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (grainState.State is State.FileJobGrainState { Current: Running } && Failed.TryAdd(grainId, true))
            {
                if (Failed.Count % 2 == 0)
                {
                    await inner.WriteStateAsync(stateName, grainId, grainState);
                }

                throw new TimeoutException("the storage did not answer (test)");
            }

            await inner.WriteStateAsync(stateName, grainId, grainState);
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}

public class ContentTypeMatchingTests
{
    [Fact]
    public async Task WithContentTypeMatching_HandledMimetypesTakeAFileThePatternMisses()
    {
        var root = WorkflowHost.NewRoot();
        try
        {
            await using var host = await WorkflowHost.StartAsync(root, matchContentType: true);
            var folder = Configs.Folder();
            await host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop", glob: ".never", extraEtl: "handled_mimetypes = \"text/csv, application/json\""));
            await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");

            await host.DropAsync($"{folder}/01_inbox/data.json", "{}");
            await host.DropAsync($"{folder}/01_inbox/notes.txt", "x");

            await host.WaitForStatusAsync(folder, "data.json", FileStatus.Complete);
            await host.WaitForStatusAsync(folder, "notes.txt", FileStatus.Queued);
        }
        finally
        {
            WorkflowHost.DeleteRoot(root);
        }
    }
}
