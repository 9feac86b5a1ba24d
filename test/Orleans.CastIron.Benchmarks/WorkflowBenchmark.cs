using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Tests;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.LocalFolder;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.CastIron.Benchmarks;

/// <summary>
/// The file workflow against raw baselines measured in the same run: N files dropped at once (throughput, CPU,
/// allocations, fsyncs, grain calls, state and status writes per file), drop→archive latency of single files at light
/// load with the shipped timings, and the memory of 10,000 files queued behind a config that takes one at a time.
/// </summary>
internal static class WorkflowBenchmark
{
    /// <summary>State writes per file the machine needs (Arriving, Running, Finalizing, Final).</summary>
    private const int DurableWritesPerFile = 4;

    public static async Task RunAsync(int files, int queued)
    {
        Console.WriteLine($"Orleans.CastIron file-workflow benchmark: {files} files, {Environment.ProcessorCount} cores");
        var raw = await MeasureRawAsync("raw File.Move x3", files, durable: false);
        var durable = await MeasureRawAsync($"minimum durable (moves + {DurableWritesPerFile} fsync'd writes)", files, durable: true);
        var store = await MeasureStoreAsync(files);
        var workflow = await MeasureWorkflowAsync(files);

        Console.WriteLine();
        Console.WriteLine($"{"run",-44} {"files/s",8} {"ms/file",8} {"CPU ms/file",12} {"KiB/file",9} {"fsyncs",7} {"calls",6} {"state",6} {"status",7} {"vs min durable",15}");
        foreach (var r in new[] { raw, durable, store, workflow })
        {
            Console.WriteLine(
                $"{r.Name,-44} {files / r.Seconds,8:F0} {r.Seconds * 1000 / files,8:F2} {r.CpuSeconds * 1000 / files,12:F2} {r.AllocatedBytes / 1024.0 / files,9:F1} " +
                $"{r.Fsyncs / (double)files,7:F1} {r.GrainCalls / (double)files,6:F1} {r.StateWrites / (double)files,6:F1} {r.StatusWrites / (double)files,7:F1} {durable.Seconds / r.Seconds,14:F2}x");
        }

        Console.WriteLine("(per file: fsyncs, grain calls, grain-state writes, status writes; 'vs min durable' = throughput relative to the minimum durable work)");
        await MeasureLatencyAsync(samples: 40);
        await MeasureQueuedMemoryAsync(queued);
    }

    private static async Task<Result> MeasureRawAsync(string name, int files, bool durable) =>
        await MeasureAsync(name, files, async root =>
        {
            var inbox = Path.Combine(root, "etl", "01_inbox");
            var processing = Path.Combine(root, "etl", "02_processing");
            var archive = Path.Combine(root, "etl", "03_archive");
            var state = Path.Combine(root, "state");
            Directory.CreateDirectory(processing);
            Directory.CreateDirectory(archive);
            Directory.CreateDirectory(state);
            long fsyncs = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, files), async (i, ct) =>
            {
                var leaf = $"{Guid.NewGuid()}-file-{i:D5}.csv";
                if (durable)
                {
                    await WriteDurablyAsync(Path.Combine(state, leaf), ct);
                }

                File.Move(Path.Combine(inbox, $"file-{i:D5}.csv"), Path.Combine(inbox, leaf));
                if (durable)
                {
                    await WriteDurablyAsync(Path.Combine(state, leaf), ct);
                }

                File.Move(Path.Combine(inbox, leaf), Path.Combine(processing, leaf));
                if (durable)
                {
                    await WriteDurablyAsync(Path.Combine(state, leaf), ct);
                    await WriteDurablyAsync(Path.Combine(state, leaf), ct);
                    Interlocked.Add(ref fsyncs, DurableWritesPerFile);
                }

                File.Move(Path.Combine(processing, leaf), Path.Combine(archive, leaf));
            });
            return new Counters(fsyncs, 0, durable ? fsyncs : 0, 0);
        });

    private static async Task WriteDurablyAsync(string path, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true))
        {
            await stream.WriteAsync(new byte[600], cancellationToken);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static Task<Result> MeasureStoreAsync(int files) =>
        MeasureAsync("folder store MoveAsync x3", files, async root =>
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
            return new Counters(0, 0, 0, 0);
        });

    private static async Task<Result> MeasureAsync(string name, int files, Func<string, Task<Counters>> body)
    {
        var root = WorkflowHost.NewRoot();
        var inbox = Path.Combine(root, "etl", "01_inbox");
        Directory.CreateDirectory(inbox);
        for (var i = 0; i < files; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(inbox, $"file-{i:D5}.csv"), $"row {i}\n");
        }

        var (allocated, cpu, watch) = Start();
        var counters = await body(root);
        var result = Stop(name, allocated, cpu, watch, counters);
        WorkflowHost.DeleteRoot(root);
        return result;
    }

    private static async Task<Result> MeasureWorkflowAsync(int files)
    {
        var probe = new Probe();
        await using var host = await WorkflowHost.StartAsync(maxConcurrency: Environment.ProcessorCount * 4, configure: probe.Attach);
        const string folder = "bench";
        await RegisterAsync(host, folder, Configs.Dotnet("test.noop"));
        var staging = Stage(host, files, "file");

        probe.Reset();
        var (allocated, cpu, watch) = Start();
        MoveIn(host, staging, folder);
        await WorkflowHost.WaitUntilAsync(
            async () => (await host.StatusStore.CountAsync()).GetValueOrDefault(FileStatus.Complete) == files,
            TimeSpan.FromMinutes(10),
            () => $"{files} files Complete");
        return Stop("workflow (drop to archive, no-op processor)", allocated, cpu, watch, probe.Read());
    }

    /// <summary>Single files, one at a time, with the shipped watcher timings: where the time goes at light load.</summary>
    private static async Task MeasureLatencyAsync(int samples)
    {
        await using var host = await WorkflowHost.StartAsync(fastTimings: false);
        const string folder = "latency";
        await RegisterAsync(host, folder, Configs.Dotnet("test.noop"));
        var total = new List<double>();
        var seen = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var name = $"single-{i:D3}.csv";
            var staged = Path.Combine(host.Root, name);
            await File.WriteAllTextAsync(staged, "a\n");
            var dropped = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            // Renamed into the inbox, as a finished upload or a tool writing a temporary file would.
            File.Move(staged, Path.Combine(host.BucketPath, folder, "01_inbox", name));
            FileStatusRecord? record = null;
            while (record?.Status != FileStatus.Complete)
            {
                await Task.Delay(2);
                record = (await host.FilesAsync(folder)).FirstOrDefault(r => r.OriginalFilename == name);
            }

            total.Add(clock.Elapsed.TotalMilliseconds);
            seen.Add((record.CreatedAt - dropped).TotalMilliseconds);
        }

        Console.WriteLine();
        Console.WriteLine($"drop -> archive, single files at light load, shipped timings ({samples} samples):");
        Console.WriteLine($"  total          p50 {Percentile(total, 0.5),7:F0} ms   p99 {Percentile(total, 0.99),7:F0} ms");
        Console.WriteLine($"  watcher delay  p50 {Percentile(seen, 0.5),7:F0} ms   p99 {Percentile(seen, 0.99),7:F0} ms   (drop until the job took it)");
        Console.WriteLine($"  the rest       p50 {Percentile(total, 0.5) - Percentile(seen, 0.5),7:F0} ms");
    }

    /// <summary>N files queued behind a config that processes one at a time (the first one blocks): silo memory.</summary>
    private static async Task MeasureQueuedMemoryAsync(int queued)
    {
        await using var host = await WorkflowHost.StartAsync();
        const string folder = "queued";
        await RegisterAsync(host, folder, Configs.Dotnet("test.block", extraEtl: "max_concurrency = 1"));
        var staging = Stage(host, queued, "q");
        var watch = Stopwatch.StartNew();
        MoveIn(host, staging, folder);
        await WorkflowHost.WaitUntilAsync(
            async () => (await host.StatusStore.CountAsync()).Values.Sum() == queued,
            TimeSpan.FromMinutes(15),
            () => $"{queued} files tracked");
        var seconds = watch.Elapsed.TotalSeconds;
        var processing = (await host.StatusStore.CountAsync()).GetValueOrDefault(FileStatus.Processing);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        Console.WriteLine();
        Console.WriteLine($"{queued} files queued behind max_concurrency = 1: taken in {seconds:F1} s ({queued / seconds:F0} files/s), {processing} Processing,");
        Console.WriteLine($"  process RSS {self.WorkingSet64 / 1024.0 / 1024.0:F0} MiB, managed heap {GC.GetTotalMemory(false) / 1024.0 / 1024.0:F0} MiB (the cluster runs in this process)");
        foreach (var name in Enumerable.Range(0, queued).Select(i => $"q-{i:D5}.csv"))
        {
            TestProcessors.ReleaseSignal(name).TrySetResult();
        }
    }

    private static async Task RegisterAsync(WorkflowHost host, string folder, string config)
    {
        await host.DropAsync($"{folder}/cfg.toml", config);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");
    }

    /// <summary>Files are written first, aged past the settle time, then made visible by renames, as the baselines' are.</summary>
    private static string Stage(WorkflowHost host, int count, string prefix)
    {
        var staging = Path.Combine(host.Root, "staging-" + prefix);
        Directory.CreateDirectory(staging);
        for (var i = 0; i < count; i++)
        {
            var path = Path.Combine(staging, $"{prefix}-{i:D5}.csv");
            File.WriteAllText(path, $"row {i}\n");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-1));
        }

        return staging;
    }

    private static void MoveIn(WorkflowHost host, string staging, string folder)
    {
        foreach (var file in Directory.EnumerateFiles(staging))
        {
            File.Move(file, Path.Combine(host.BucketPath, folder, "01_inbox", Path.GetFileName(file)));
        }
    }

    private static (long Allocated, TimeSpan Cpu, Stopwatch Watch) Start()
    {
        using var self = Process.GetCurrentProcess();
        return (GC.GetTotalAllocatedBytes(precise: true), self.TotalProcessorTime, Stopwatch.StartNew());
    }

    private static Result Stop(string name, long allocated, TimeSpan cpu, Stopwatch watch, Counters counters)
    {
        watch.Stop();
        using var self = Process.GetCurrentProcess();
        return new Result(name, watch.Elapsed.TotalSeconds, (self.TotalProcessorTime - cpu).TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - allocated, counters.Fsyncs, counters.GrainCalls, counters.StateWrites, counters.StatusWrites);
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private sealed record Counters(long Fsyncs, long GrainCalls, long StateWrites, long StatusWrites);

    private sealed record Result(string Name, double Seconds, double CpuSeconds, long AllocatedBytes, long Fsyncs, long GrainCalls, long StateWrites, long StatusWrites);

    /// <summary>Counts grain calls, grain-state writes (each one fsync) and status writes of a test cluster.</summary>
    private sealed class Probe
    {
        private long _calls;
        private long _writes;
        private long _statuses;

        public void Attach(ISiloBuilder silo)
        {
            silo.AddIncomingGrainCallFilter(context =>
            {
                Interlocked.Increment(ref _calls);
                return context.Invoke();
            });
            silo.Services.AddKeyedSingleton<IGrainStorage>(CastIronNames.GrainStorage, (sp, key) =>
            {
                var options = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<LocalFolderOptions>>().Value;
                var path = Path.Combine(Path.GetFullPath(options.RootPath), LocalFolderOptions.SystemFolderName, "state");
                return new CountingStorage(new FileGrainStorage(CastIronNames.GrainStorage, path, new OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>())), this);
            });
            silo.Services.AddSingleton<IFileStatusStore>(sp =>
            {
                var options = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<LocalFolderOptions>>().Value;
                return new CountingStatus(new FolderFileStatusStore(Path.Combine(Path.GetFullPath(options.RootPath), LocalFolderOptions.SystemFolderName, "status")), this);
            });
        }

        public void Reset()
        {
            Interlocked.Exchange(ref _calls, 0);
            Interlocked.Exchange(ref _writes, 0);
            Interlocked.Exchange(ref _statuses, 0);
        }

        public Counters Read() => new(Interlocked.Read(ref _writes), Interlocked.Read(ref _calls), Interlocked.Read(ref _writes), Interlocked.Read(ref _statuses));

        private sealed class CountingStorage(IGrainStorage inner, Probe probe) : IGrainStorage
        {
            public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

            public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
            {
                Interlocked.Increment(ref probe._writes);
                return inner.WriteStateAsync(stateName, grainId, grainState);
            }

            public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
        }

        private sealed class CountingStatus(IFileStatusStore inner, Probe probe) : IFileStatusStore
        {
            public Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default)
            {
                Interlocked.Increment(ref probe._statuses);
                return inner.UpsertAsync(record, cancellationToken);
            }

            public Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

            public Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset = 0, CancellationToken cancellationToken = default) => inner.QueryAsync(status, limit, offset, cancellationToken);

            public Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
        }
    }
}
