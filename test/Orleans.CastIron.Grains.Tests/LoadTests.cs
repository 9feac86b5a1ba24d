namespace Orleans.CastIron.Grains.Tests;

public class LoadTests
{
    [Fact]
    public async Task ThousandFilesDroppedAtOnce_AllReachTheArchive_NoneLost_NoneProcessedTwice()
    {
        const int count = 1000;
        await using var host = await WorkflowHost.StartAsync();
        var folder = Configs.Folder();
        await host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop"));
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");

        await Parallel.ForEachAsync(Enumerable.Range(0, count), async (i, _) => await host.DropAsync($"{folder}/01_inbox/file-{i:D4}.csv", $"row {i}\n"));

        IReadOnlyDictionary<FileStatus, int> counts = new Dictionary<FileStatus, int>();
        await WorkflowHost.WaitUntilAsync(
            async () => (counts = await host.StatusStore.CountAsync()).GetValueOrDefault(FileStatus.Complete) == count,
            TimeSpan.FromMinutes(4),
            () => $"{count} files Complete; seen {string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}"))}");
        var files = await host.FilesAsync(folder);

        Assert.Equal(count, files.Count);
        Assert.Equal(count, files.Select(f => f.OriginalFilename).Distinct().Count());
        Assert.All(files, f => Assert.Equal(1, TestProcessors.Calls[f.Id]));
        Assert.All(files, f => Assert.Equal(1, f.Attempts));
        var archived = host.List($"{folder}/03_archive").Where(k => !k.EndsWith("/.keep", StringComparison.Ordinal)).ToList();
        Assert.Equal(count, archived.Count);
        Assert.Equal(files.Select(f => f.FileName).Order(StringComparer.Ordinal), archived);
        Assert.Equal([$"{folder}/01_inbox/.keep"], host.List($"{folder}/01_inbox"));
        Assert.Equal([$"{folder}/02_processing/.keep"], host.List($"{folder}/02_processing"));
        foreach (var f in files)
        {
            Assert.Single(await host.JobEvents.EventsAsync(f.JobId!), e => e.Type == JobEventType.JobCreated);
        }
    }
}
