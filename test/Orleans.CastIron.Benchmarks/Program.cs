using System.Diagnostics;
using System.Globalization;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains.Tests;
using Orleans.CastIron.Storage.LocalFolder;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Orleans.CastIron.Storage;

// File-workflow throughput: N small files dropped at once into an inbox, until all are archived, against a raw
// baseline of the same folder moves (drop → renamed → processing → archive) done directly, in the same run.
// Usage: dotnet run -c Release --project test/Orleans.CastIron.Benchmarks [-- files <n>] | [-- kafka <n>]
if (args.Length > 0 && args[0] == "kafka")
{
    await Orleans.CastIron.Benchmarks.KafkaBenchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000);
    return;
}

var files = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : args.Length == 1 && args[0] != "files" ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
Console.WriteLine($"Orleans.CastIron file-workflow benchmark: {files} files, {Environment.ProcessorCount} cores");

var rawFileMove = await Measure("raw File.Move x3", async root =>
{
    var inbox = Path.Combine(root, "etl", "01_inbox");
    var processing = Path.Combine(root, "etl", "02_processing");
    var archive = Path.Combine(root, "etl", "03_archive");
    Directory.CreateDirectory(processing);
    Directory.CreateDirectory(archive);
    await Parallel.ForEachAsync(Enumerable.Range(0, files), (i, _) =>
    {
        var leaf = $"{Guid.NewGuid()}-file-{i:D5}.csv";
        File.Move(Path.Combine(inbox, $"file-{i:D5}.csv"), Path.Combine(inbox, leaf));
        File.Move(Path.Combine(inbox, leaf), Path.Combine(processing, leaf));
        File.Move(Path.Combine(processing, leaf), Path.Combine(archive, leaf));
        return ValueTask.CompletedTask;
    });
});

var storeMoves = await Measure("folder store MoveAsync x3", async root =>
{
    IObjectStore store = new FolderObjectStore(new LocalFolderOptions { RootPath = root });
    await Parallel.ForEachAsync(Enumerable.Range(0, files), async (i, ct) =>
    {
        var id = Guid.NewGuid().ToString();
        var leaf = $"{id}-file-{i:D5}.csv";
        var metadata = new Dictionary<string, string> { ["originalfilename"] = $"file-{i:D5}.csv", ["id"] = id };
        await store.MoveAsync("etl", $"01_inbox/file-{i:D5}.csv", $"01_inbox/{leaf}", metadata, ct);
        await store.MoveAsync("etl", $"01_inbox/{leaf}", $"02_processing/{leaf}", metadata, ct);
        await store.MoveAsync("etl", $"02_processing/{leaf}", $"03_archive/{leaf}", metadata, ct);
    });
});

var workflow = await MeasureWorkflow();

Console.WriteLine();
Console.WriteLine($"{"run",-34} {"seconds",9} {"files/s",10} {"ms/file",9} {"KiB alloc/file",15} {"vs raw",8}");
foreach (var r in new[] { rawFileMove, storeMoves, workflow })
{
    Console.WriteLine($"{r.Name,-34} {r.Seconds,9:F2} {files / r.Seconds,10:F0} {r.Seconds * 1000 / files,9:F3} {r.AllocatedBytes / 1024.0 / files,15:F1} {r.Seconds / rawFileMove.Seconds,7:F1}x");
}

Console.WriteLine();
Console.WriteLine("workflow = drop detection, rename, match, processing move, a no-op .NET processor, archive move,");
Console.WriteLine("persisted grain state and status records, job events; 'vs raw' = time ratio to raw File.Move.");

async Task<Result> Measure(string name, Func<string, Task> body)
{
    var root = WorkflowHost.NewRoot();
    var inbox = Path.Combine(root, "etl", "01_inbox");
    Directory.CreateDirectory(inbox);
    for (var i = 0; i < files; i++)
    {
        await File.WriteAllTextAsync(Path.Combine(inbox, $"file-{i:D5}.csv"), $"row {i}\n");
    }

    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var watch = Stopwatch.StartNew();
    await body(root);
    watch.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    WorkflowHost.DeleteRoot(root);
    return new Result(name, watch.Elapsed.TotalSeconds, allocated);
}

async Task<Result> MeasureWorkflow()
{
    await using var host = await WorkflowHost.StartAsync(maxConcurrency: Environment.ProcessorCount * 4);
    const string folder = "bench";
    await host.DropAsync($"{folder}/cfg.toml", Configs.Dotnet("test.noop"));
    await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");

    // Files are written first (as the baselines' are) and made visible by one rename of their folder's contents.
    var staging = Path.Combine(host.Root, "staging");
    Directory.CreateDirectory(staging);
    for (var i = 0; i < files; i++)
    {
        await File.WriteAllTextAsync(Path.Combine(staging, $"file-{i:D5}.csv"), $"row {i}\n");
        File.SetLastWriteTimeUtc(Path.Combine(staging, $"file-{i:D5}.csv"), DateTime.UtcNow.AddMinutes(-1));
    }

    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var watch = Stopwatch.StartNew();
    foreach (var file in Directory.EnumerateFiles(staging))
    {
        File.Move(file, Path.Combine(host.BucketPath, folder, "01_inbox", Path.GetFileName(file)));
    }

    await WorkflowHost.WaitUntilAsync(
        async () => (await host.StatusStore.QueryAsync(FileStatus.Complete, int.MaxValue)).Count == files,
        TimeSpan.FromMinutes(10),
        () => $"{files} files Complete");
    watch.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    return new Result("workflow (drop to archive)", watch.Elapsed.TotalSeconds, allocated);
}

internal sealed record Result(string Name, double Seconds, long AllocatedBytes);
