using System.Diagnostics;
using ClickHouse.Driver;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains.Tests;
using Orleans.CastIron.Status.ClickHouse;
using Orleans.CastIron.Status.ClickHouse.Providers;
using Orleans.Hosting;

namespace Orleans.CastIron.Benchmarks;

/// <summary>
/// The ClickHouse status store (chDB behind ClickHouse's HTTP interface, or <c>CLICKHOUSE_URL</c>) against the raw
/// driver in the same run: status rows/s through the journal and background writer vs the same rows inserted directly
/// in batches; then the file workflow with status in ClickHouse vs in the local index.
/// </summary>
internal static class ClickHouseBenchmark
{
    public static async Task RunAsync(int rows, int files)
    {
        Console.WriteLine($"Orleans.CastIron ClickHouse benchmark: {rows} status rows, {files} files, {Environment.ProcessorCount} cores");
        await using var peer = new Orleans.CastIron.ClickHousePeer.ClickHousePeer();
        Console.WriteLine($"ClickHouse: {peer.Url} ({(peer.IsEmbedded ? "chDB " : "")}HTTP interface)");
        var records = Enumerable.Range(0, rows).Select(i => Record($"r{i:D7}", DateTimeOffset.UtcNow.AddMilliseconds(i))).ToList();

        // Raw: the same rows, already mapped, inserted directly in batches of 1,000 (the store's batch size).
        var rawOptions = Options(peer, "raw");
        using (var client = new ClickHouseClient(rawOptions.Settings()))
        {
            await client.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {rawOptions.Database}", new(), null, CancellationToken.None);
            await client.ExecuteNonQueryAsync(StatusRows.CreateTable(rawOptions.QualifiedTable), new(), null, CancellationToken.None);
            var watch = Stopwatch.StartNew();
            foreach (var batch in records.Chunk(rawOptions.BatchSize))
            {
                await client.InsertBinaryAsync(rawOptions.QualifiedTable, StatusRows.Columns, batch.Select(r => StatusRows.ToRow(r)!), new InsertOptions { BatchSize = rawOptions.BatchSize }, CancellationToken.None);
            }

            Report("raw driver InsertBinaryAsync, batches of 1000", rows, watch.Elapsed);
            var rawSeconds = watch.Elapsed.TotalSeconds;

            // The store: each write appended to the journal, the writer batching in the background.
            var storeOptions = Options(peer, "store");
            await using var store = new ClickHouseFileStatusStore(storeOptions);
            await store.StartAsync();
            await store.UpsertAsync(Record("warm-up", DateTimeOffset.UtcNow));
            await DrainAsync(store);
            watch.Restart();
            foreach (var record in records)
            {
                await store.UpsertAsync(record);
            }

            var written = watch.Elapsed;
            await DrainAsync(store);
            Report("store: UpsertAsync (journal) until all in ClickHouse", rows, watch.Elapsed);
            Console.WriteLine($"  the writes themselves returned after {written.TotalMilliseconds / rows * 1000:F1} µs each; store / raw throughput {rawSeconds / watch.Elapsed.TotalSeconds:F2}");
            Directory.Delete(storeOptions.JournalPath, recursive: true);
        }

        var off = await WorkflowAsync(files, null);
        var on = await WorkflowAsync(files, Options(peer, "flow"));
        Console.WriteLine();
        Console.WriteLine($"workflow, {files} files (no-op processor): local status index {off.TotalSeconds * 1000 / files:F2} ms/file, ClickHouse {on.TotalSeconds * 1000 / files:F2} ms/file ({(on - off).TotalMilliseconds / files:+0.00;-0.00} ms/file)");
    }

    private static async Task<TimeSpan> WorkflowAsync(int files, ClickHouseStatusOptions? clickHouse)
    {
        await using var host = await WorkflowHost.StartAsync(
            maxConcurrency: Environment.ProcessorCount * 4,
            storage: clickHouse is null ? null : silo => silo.Services.AddCastIronClickHouse(o =>
            {
                o.Host = clickHouse.Host;
                o.Port = clickHouse.Port;
                o.Database = clickHouse.Database;
                o.JournalPath = clickHouse.JournalPath;
            }));
        await host.DropAsync("bench/cfg.toml", Configs.Dotnet("test.noop"));
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists("bench/05_canceled/.keep")), null, () => "config registered");
        var staging = Path.Combine(host.Root, "staging");
        Directory.CreateDirectory(staging);
        for (var i = 0; i < files; i++)
        {
            File.WriteAllText(Path.Combine(staging, $"f-{i:D5}.csv"), "a\n");
        }

        var archive = Path.Combine(host.BucketPath, "bench", "03_archive");
        var watch = Stopwatch.StartNew();
        foreach (var file in Directory.EnumerateFiles(staging))
        {
            File.Move(file, Path.Combine(host.BucketPath, "bench", "01_inbox", Path.GetFileName(file)));
        }

        // Counted in the bucket (the archive), not through the status store being measured.
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Directory.Exists(archive) && Directory.GetFiles(archive).Count(f => !f.EndsWith(".keep", StringComparison.Ordinal)) == files), TimeSpan.FromMinutes(10), () => $"{files} files archived");
        return watch.Elapsed;
    }

    private static ClickHouseStatusOptions Options(Orleans.CastIron.ClickHousePeer.ClickHousePeer peer, string prefix) => new()
    {
        Host = peer.Url.Host,
        Port = peer.Url.Port,
        Database = Orleans.CastIron.ClickHousePeer.ClickHousePeer.NewDatabase(prefix),
        JournalPath = Path.Combine(Path.GetTempPath(), "castiron-bench-journal", Guid.NewGuid().ToString("N")),
    };

    private static FileStatusRecord Record(string id, DateTimeOffset at) => new()
    {
        Id = id,
        BucketName = "etl",
        FileName = $"03_archive/{id}-test.csv",
        Status = FileStatus.Complete,
        OriginalFilename = "test.csv",
        JobKey = $"01_inbox/{id}-test.csv",
        JobId = "job",
        ConfigKey = "cfg.toml",
        Attempts = 1,
        Size = 100,
        ContentType = "text/csv",
        CreatedAt = at,
        UpdatedAt = at,
        Transitions = [new StatusTransition(FileStatus.Queued, at), new StatusTransition(FileStatus.Complete, at)],
    };

    private static async Task DrainAsync(ClickHouseFileStatusStore store)
    {
        while (store.HasPending)
        {
            await Task.Delay(5);
        }
    }

    private static void Report(string name, int rows, TimeSpan elapsed) =>
        Console.WriteLine($"{name,-56} {rows / elapsed.TotalSeconds,10:F0} rows/s");
}
