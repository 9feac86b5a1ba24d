namespace Orleans.CastIron.Grains.Tests;

[Collection(WorkflowCollection.Name)]
public class ShellProcessorTests(WorkflowFixture fixture)
{
    private WorkflowHost Host => fixture.Host;

    private async Task RegisterAsync(string folder, string config)
    {
        await Host.DropAsync($"{folder}/cfg.toml", config);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Host.Exists($"{folder}/05_canceled/.keep")), null, () => $"config in '{folder}' to be registered");
    }

    [Fact]
    public async Task PizzaTrackerLines_BecomeTaskProgressAndCommittedEvents_IncludingTheLastLinesBeforeExit()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Shell("""
            echo "TASK parsing" > "$PIZZA_TRACKER"
            echo "PROGRESS 2/5" > "$PIZZA_TRACKER"
            echo "PROGRESS 1/0" > "$PIZZA_TRACKER"
            echo "garbage line" > "$PIZZA_TRACKER"
            printf 'COMMITTED 10\nEND\nTASK after end\n' > "$PIZZA_TRACKER"
            """));

        await Host.DropAsync($"{folder}/01_inbox/t.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "t.csv", FileStatus.Complete);

        Assert.Equal(
            [
                JobEvent.Created(record.JobId!, $"{record.Id}-t.csv", "cfg.toml", "castiron"),
                JobEvent.TaskUpdate(record.JobId!, "parsing"),
                JobEvent.ProgressUpdate(record.JobId!, 0.4),
                JobEvent.CommittedUpdate(record.JobId!, 10),
                JobEvent.StatusUpdate(record.JobId!, "success"),
            ],
            await Host.JobEvents.EventsAsync(record.JobId!));
    }

    [Fact]
    public async Task ShellEnvironment_CarriesTheSeedContract_InTheJobFolder()
    {
        var folder = Configs.Folder();
        var report = Path.Combine(Host.Root, $"{folder}-env.txt");
        await RegisterAsync(folder, Configs.Shell($$"""
            {
              echo "pwd=$PWD"
              echo "file=$ETL_FILENAME"
              echo "meta=$ETL_FILE_METADATA"
              echo "content=$(cat "$ETL_FILENAME")"
              echo "tracker=$([ -p "$PIZZA_TRACKER" ] && echo fifo)"
              echo "path_set=$([ -n "$PATH" ] && echo yes)"
            } > '{{report}}'
            """));

        await Host.DropAsync($"{folder}/01_inbox/env.csv", "hello-env");
        var record = await Host.WaitForStatusAsync(folder, "env.csv", FileStatus.Complete);

        var lines = (await File.ReadAllLinesAsync(report)).ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        Assert.Equal(Path.Combine(lines["pwd"], $"{record.Id}-env.csv"), lines["file"]);
        Assert.Equal("hello-env", lines["content"]);
        Assert.Equal("fifo", lines["tracker"]);
        Assert.Equal("yes", lines["path_set"]);
        Assert.Contains("\"id\":\"" + record.Id + "\"", lines["meta"], StringComparison.Ordinal);
        Assert.False(Directory.Exists(lines["pwd"]), "the job folder is removed afterwards");
    }

    [Fact]
    public async Task NonZeroExit_FailsWithTheScriptOutputInTheErrorLog()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Shell("echo to-stdout; echo to-stderr >&2; exit 3", extraEtl: "max_attempts = 1"));

        await Host.DropAsync($"{folder}/01_inbox/bad.csv", "a\n");
        var record = await Host.WaitForStatusAsync(folder, "bad.csv", FileStatus.Failed);

        Assert.Equal("the shell script exited with code 3", record.Reason);
        var log = await File.ReadAllTextAsync(Path.Combine(Host.BucketPath, record.ErrorLogKey!));
        Assert.Contains("to-stdout", log, StringComparison.Ordinal);
        Assert.Contains("to-stderr", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelRunningShell_KillsTheScript()
    {
        var folder = Configs.Folder();
        var marker = Path.Combine(Host.Root, $"{folder}-started");
        var after = Path.Combine(Host.Root, $"{folder}-finished");
        await RegisterAsync(folder, Configs.Shell($"touch '{marker}'; sleep 30; touch '{after}'"));
        await Host.DropAsync($"{folder}/01_inbox/long.csv", "a\n");
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(File.Exists(marker)), null, () => "the script to start");
        var running = await Host.WaitForStatusAsync(folder, "long.csv", FileStatus.Processing);

        var result = await Host.Grains.GetGrain<IFileJobGrain>(running.Id).CancelAsync(null);

        Assert.True(result.Accepted, result.Message);
        var canceled = await Host.WaitForStatusAsync(folder, "long.csv", FileStatus.Canceled, TimeSpan.FromSeconds(20));
        Assert.StartsWith($"{folder}/05_canceled/", canceled.FileName, StringComparison.Ordinal);
        Assert.False(File.Exists(after));
    }

    [Theory]
    [InlineData("with spaces.csv")]
    [InlineData("it's \"quoted\".csv")]
    [InlineData("$(touch PWNED).csv")]
    [InlineData("a;touch PWNED;.csv")]
    [InlineData("`touch PWNED`.csv")]
    [InlineData("données-ünïcødé-日本.csv")]
    public async Task HostileFileNames_NeitherBreakNorInject(string name)
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Shell("cat \"$ETL_FILENAME\" > /dev/null && [ \"$(cat \"$ETL_FILENAME\")\" = payload ]"));

        await Host.DropAsync($"{folder}/01_inbox/{name}", "payload");
        var record = await Host.WaitForStatusAsync(folder, name, FileStatus.Complete);

        Assert.Equal($"{folder}/03_archive/{record.Id}-{name}", record.FileName);
        Assert.True(Host.Exists(record.FileName));
        Assert.Empty(Directory.EnumerateFiles(Host.Root, "PWNED", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(Path.GetTempPath(), "PWNED", SearchOption.TopDirectoryOnly));
    }

    [Fact]
    public async Task FileNameWithANewline_IsNeverTaken()
    {
        var folder = Configs.Folder();
        await RegisterAsync(folder, Configs.Shell("true"));

        await Host.DropAsync($"{folder}/01_inbox/line\nbreak.csv", "a");
        await Host.DropAsync($"{folder}/01_inbox/after.csv", "a");
        await Host.WaitForStatusAsync(folder, "after.csv", FileStatus.Complete);

        Assert.True(Host.Exists($"{folder}/01_inbox/line\nbreak.csv"));
        Assert.Single(await Host.FilesAsync(folder));
    }
}
