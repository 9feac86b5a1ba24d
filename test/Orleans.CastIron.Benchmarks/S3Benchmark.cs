using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Minio;
using Minio.DataModel.Args;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains.Tests;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.S3.Providers;
using Orleans.CastIron.Storage.S3.Tests;
using Orleans.Hosting;

namespace Orleans.CastIron.Benchmarks;

/// <summary>
/// The file workflow on S3 (RADOS Gateway on loopback, or <c>S3_ENDPOINT</c>) against the raw minimum the same files
/// need, done directly with the Minio SDK at the same parallelism in the same run: for each of the three moves
/// (rename, to processing, to archive) the stat, copy and delete. The workflow is driven by notifications (queued as
/// the webhook queues them) and runs a no-op processor.
/// </summary>
internal static class S3Benchmark
{
    private const int Parallelism = 16;

    public static async Task RunAsync(int files)
    {
        Console.WriteLine($"Orleans.CastIron S3 benchmark: {files} files, parallelism {Parallelism}, {Environment.ProcessorCount} cores");
        using var peer = new S3Peer();
        Console.WriteLine($"S3 server: {peer.Endpoint} ({(peer.IsCeph ? "Ceph RADOS Gateway" : "S3_ENDPOINT")})");
        var options = peer.Options(o => o.NotificationArn = "");

        // Warm-up of the raw path (connections, JIT), not measured; then raw and workflow take turns, twice each, so
        // neither gains from the server's state (a fresh or a busy store) and the best of each is compared.
        await MeasureRawAsync(options, 50);
        var runs = new List<Result>();
        for (var round = 1; round <= 2; round++)
        {
            Console.WriteLine($"round {round}: raw");
            runs.Add(await MeasureRawAsync(options, files));
            Console.WriteLine($"round {round}: workflow");
            runs.Add(await MeasureWorkflowAsync(options, files));
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-52} {"files/s",8} {"ms/file",8} {"CPU ms/file",12}");
        foreach (var r in runs)
        {
            Console.WriteLine($"{r.Name,-52} {files / r.Seconds,8:F0} {r.Seconds * 1000 / files,8:F2} {r.CpuSeconds * 1000 / files,12:F2}");
        }

        var raw = runs.Where(r => r.Name.StartsWith("raw", StringComparison.Ordinal)).Min(r => r.Seconds);
        var workflow = runs.Where(r => r.Name.StartsWith("workflow", StringComparison.Ordinal)).Min(r => r.Seconds);
        Console.WriteLine($"workflow / raw throughput: {raw / workflow:F2} (best of two each; target at least 0.80)");
    }

    private static async Task<Result> MeasureRawAsync(Orleans.CastIron.Storage.S3.S3StorageOptions options, int files)
    {
        var bucket = S3Peer.NewBucket("raw");
        using var store = new S3ObjectStore(options);
        await store.EnsureBucketAsync(bucket);
        await UploadAsync(store, bucket, "01_inbox", files);
        using var client = new MinioClient().WithEndpoint(options.HostName, options.EffectivePort!.Value)
            .WithCredentials(options.AccessKey, options.SecretKey).WithRegion(options.Region).WithSSL(options.Secure).Build();

        var (cpu, watch) = Start();
        await Parallel.ForEachAsync(Enumerable.Range(0, files), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, ct) =>
        {
            var name = $"file-{i:D5}.csv";
            var id = Guid.NewGuid().ToString();
            var metadata = new Dictionary<string, string> { ["x-amz-meta-id"] = id, ["x-amz-meta-originalfilename"] = name, ["Content-Type"] = "text/csv" };
            string[] keys = [$"01_inbox/{name}", $"01_inbox/{id}-{name}", $"02_processing/{id}-{name}", $"03_archive/{id}-{name}"];
            for (var step = 0; step < 3; step++)
            {
                await client.StatObjectAsync(new StatObjectArgs().WithBucket(bucket).WithObject(keys[step]), ct);
                await client.CopyObjectAsync(new CopyObjectArgs().WithBucket(bucket).WithObject(keys[step + 1])
                    .WithCopyObjectSource(new CopySourceObjectArgs().WithBucket(bucket).WithObject(keys[step]))
                    .WithReplaceMetadataDirective(true).WithHeaders(metadata), ct);
                await client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(bucket).WithObject(keys[step]), ct);
            }
        });
        return Stop("raw SDK: (stat, copy, delete) x3", cpu, watch);
    }

    private static async Task<Result> MeasureWorkflowAsync(Orleans.CastIron.Storage.S3.S3StorageOptions options, int files)
    {
        var bucket = S3Peer.NewBucket("flow");
        await using var host = await WorkflowHost.StartAsync(
            maxConcurrency: Parallelism,
            configure: silo => silo.Services.Configure<Grains.CastIronOptions>(o =>
            {
                o.Bucket = bucket;
                o.ReconcileInterval = TimeSpan.Zero;
            }),
            storage: silo => silo.Services.AddCastIronS3(bucket, o =>
            {
                o.Host = options.Host;
                o.Port = options.Port;
                o.AccessKey = options.AccessKey;
                o.SecretKey = options.SecretKey;
                o.NotificationArn = "";
            }));
        var store = (S3ObjectStore)host.Store;
        var events = host.Services.GetRequiredService<S3EventSource>();
        var config = await store.WriteTextAsync(bucket, "cfg.toml", Configs.Dotnet("test.noop"));
        events.TryPost(config.ToCreatedEvent(bucket));
        await WorkflowHost.WaitUntilAsync(async () => await store.StatAsync(bucket, "05_canceled/.keep") is not null, TimeSpan.FromSeconds(60), () => "config registered");
        var uploaded = await UploadAsync(store, bucket, "01_inbox", files);

        Console.WriteLine("  measuring");
        var (cpu, watch) = Start();
        // What the webhook does for each notification: queue it for intake.
        foreach (var info in uploaded)
        {
            while (!events.TryPost(info.ToCreatedEvent(bucket)))
            {
                await Task.Delay(1);
            }
        }

        await WorkflowHost.WaitUntilAsync(
            async () => (await host.StatusStore.CountAsync()).GetValueOrDefault(FileStatus.Complete) == files,
            TimeSpan.FromMinutes(10),
            () => $"{files} files Complete");
        return Stop("workflow: notification to archive, no-op processor", cpu, watch);
    }

    private static async Task<List<ObjectInfo>> UploadAsync(IObjectStore store, string bucket, string folder, int files)
    {
        var uploaded = new System.Collections.Concurrent.ConcurrentBag<ObjectInfo>();
        await Parallel.ForEachAsync(Enumerable.Range(0, files), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, ct) =>
            uploaded.Add(await store.WriteAsync(bucket, $"{folder}/file-{i:D5}.csv", new MemoryStream(System.Text.Encoding.UTF8.GetBytes($"row {i}\n")), new Dictionary<string, string>(), "text/csv", ct)));
        return [.. uploaded];
    }

    private static (TimeSpan Cpu, Stopwatch Watch) Start()
    {
        using var self = Process.GetCurrentProcess();
        return (self.TotalProcessorTime, Stopwatch.StartNew());
    }

    private static Result Stop(string name, TimeSpan cpu, Stopwatch watch)
    {
        watch.Stop();
        using var self = Process.GetCurrentProcess();
        return new Result(name, watch.Elapsed.TotalSeconds, (self.TotalProcessorTime - cpu).TotalSeconds);
    }

    private sealed record Result(string Name, double Seconds, double CpuSeconds);
}
