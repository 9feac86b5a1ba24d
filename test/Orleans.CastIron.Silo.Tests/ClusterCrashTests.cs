using System.Net.Http.Json;
using ClickHouse.Driver;
using Confluent.Kafka;
using Orleans.CastIron.Redis.Tests;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.S3.Providers;
using Orleans.CastIron.Storage.S3.Tests;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The production shape with real processes and real peers: two silos in one cluster on Debian's redis-server
/// (membership, grain state, reminders, job timers), the bucket on Ceph RADOS Gateway announced through MinIO-style
/// notifications on Kafka (the mock cluster), status rows in ClickHouse (chDB), job folders on one machine. One silo is
/// killed with SIGKILL in the middle of a backlog of files and a stream of text payloads; the survivor finishes
/// everything without being asked, and the killed silo, started again, joins the running cluster and sends the status
/// rows it had journaled.
/// </summary>
[Collection(ClusterPeersCollection.Name)]
public sealed class ClusterCrashTests(S3Peer s3, Orleans.CastIron.ClickHousePeer.ClickHousePeer clickHouse, ITestOutputHelper output) : IDisposable
{
    private const int Files = 1000;
    private const int Payloads = 10_000;
    private const string Config = "crash";
    private const int Slots = 8;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-cluster-tests", Guid.NewGuid().ToString("N"));
    private readonly string _bucket = S3Peer.NewBucket("crash");
    private readonly string _database = Orleans.CastIron.ClickHousePeer.ClickHousePeer.NewDatabase("crash");

    private string Suffix => Path.GetFileName(_root);

    [Fact]
    public async Task TwoSilos_OneKilledMidBacklog_EveryFileEndsOnceArchived_EveryPayloadHandled_NoStatusRowLost()
    {
        using var redis = new RedisPeer();
        using var kafka = new KafkaPeer();
        using var store = new S3ObjectStore(s3.Options());
        var handled = Path.Combine(_root, "payloads");
        var processed = Path.Combine(_root, "processed.log");
        Directory.CreateDirectory(_root);
        await store.EnsureBucketAsync(_bucket);
        // Registered at start (reconciliation is off: notifications alone bring the files in).
        await store.WriteTextAsync(_bucket, $"{Config}/cfg.toml", $"""
            [castiron.etl]
            enabled = true
            handled_file_glob = ".dat"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            max_attempts = 1
            shell = 'sleep 0.05; echo "$ETL_FILE_ID" >> {processed}'
            """);

        var first = Start("a", redis, kafka);
        var second = Start("b", redis, kafka);
        // The one killed is the one doing more of the work at that moment (which one that is depends on where Kafka's
        // queues and the job grains were placed); the other is the survivor.
        var victim = second;
        var survivor = first;
        try
        {
            await WaitUntilAsync(async () => await store.StatAsync(_bucket, $"{Config}/05_canceled/.keep") is not null, "config registered", first);
            await WaitUntilAsync(async () => await Silos(first) == 2, "both silos in the cluster", first);
            // The Orleans Dashboard answers on every silo.
            foreach (var silo in new[] { first, second })
            {
                await WaitUntilAsync(async () => await AnswersAsync(silo, "/dashboard"), "the dashboard of each silo", silo);
            }

            // About a minute of them: the stream is still coming when the silo is killed.
            var textTopic = $"castiron_text_payload-{Suffix}";
            var sending = Task.Run(async () =>
            {
                using var producer = kafka.CreateProducer();
                for (var i = 0; i < Payloads; i++)
                {
                    producer.Produce(textTopic, new Message<string?, string> { Value = $$"""{"worker_run_method":"test.payload.record","data":"x","n":{{i}},"out":"{{handled}}"}""" });
                    if (i % 100 == 99)
                    {
                        await Task.Delay(600);
                    }
                }

                producer.Flush(TimeSpan.FromSeconds(60));
            });
            var clock = System.Diagnostics.Stopwatch.StartNew();

            // Each drop is uploaded, then announced the way MinIO announces it (keyed by bucket/key).
            using (var notifications = kafka.CreateProducer())
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, Files), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
                {
                    var key = $"{Config}/01_inbox/f{i:0000}.dat";
                    await store.WriteTextAsync(_bucket, key, $"{i}\n", cancellationToken: ct);
                    notifications.Produce($"castiron_etl_source_file-{Suffix}", new Message<string?, string>
                    {
                        Key = $"{_bucket}/{key}",
                        Value = $$"""{"EventName":"s3:ObjectCreated:Put","Key":"{{_bucket}}/{{key}}"}""",
                    });
                });
                notifications.Flush(TimeSpan.FromSeconds(30));
            }

            TestFigures.Report(output, "cluster kill", $"{Files} files uploaded and announced in {clock.Elapsed.TotalSeconds:0.0} s");

            await WaitUntilAsync(async () => await CountAsync(store, "03_archive") >= Files / 4 && Handled(handled).Count >= Payloads / 4, $"{Files / 4} files archived and {Payloads / 4} payloads handled", first);
            var beforeKill = await CountAsync(store, "03_archive");
            var payloadsBeforeKill = Handled(handled).Count;
            if (JobFolders(first.Id).Count > JobFolders(second.Id).Count)
            {
                (victim, survivor) = (first, second);
            }

            var killedPid = victim.Id;
            var killedFolders = JobFolders(killedPid).Count;
            var survivorFolders = JobFolders(survivor.Id).Count;
            await victim.StopAsync(kill: true);
            TestFigures.Report(output, "cluster kill", $"At {clock.Elapsed.TotalSeconds:0.0} s: SIGKILL of silo {(victim == first ? "a" : "b")} after {beforeKill} files archived and {payloadsBeforeKill} payloads handled; it had {killedFolders} job folder(s), the survivor {survivorFolders}");
            // The survivor's progress, printed when the wait fails (a slow survivor and a stuck file look different).
            var progress = new List<string>();
            var sampled = System.Diagnostics.Stopwatch.StartNew();
            await WaitUntilAsync(async () =>
            {
                var archivedNow = await CountAsync(store, "03_archive");
                if (sampled.Elapsed >= TimeSpan.FromSeconds(10) || progress.Count == 0)
                {
                    progress.Add($"{clock.Elapsed.TotalSeconds:0} s: archived {archivedNow}, inbox {await CountAsync(store, "01_inbox")}, processing {await CountAsync(store, "02_processing")}, failed {await CountAsync(store, "04_failed")}");
                    sampled.Restart();
                }

                return archivedNow == Files;
            }, $"all {Files} files archived by the survivor", survivor, TimeSpan.FromMinutes(6), () => string.Join('\n', progress));
            output.WriteLine(string.Join('\n', progress));
            TestFigures.Report(output, "cluster kill", $"At {clock.Elapsed.TotalSeconds:0.0} s: all {Files} files archived");
            await sending;
            await WaitUntilAsync(() => Task.FromResult(Handled(handled).Distinct().Count() == Payloads), $"all {Payloads} payloads handled", survivor, TimeSpan.FromMinutes(3));
            var deliveries = Handled(handled);
            TestFigures.Report(output, "cluster kill", $"At {clock.Elapsed.TotalSeconds:0.0} s: {Payloads} payloads handled at least once: {deliveries.Count} deliveries, {deliveries.Count - Payloads} duplicates (read again from the committed offsets of the killed silo's queues)");

            // Every file in exactly one final state: archived once under its id, nothing left anywhere else.
            var archived = await KeysAsync(store, "03_archive");
            Assert.Equal(Files, archived.Count);
            Assert.Equal(Files, archived.Select(k => k[(k.LastIndexOf('/') + 1 + 37)..]).Distinct().Count());
            Assert.Equal(0, await CountAsync(store, "01_inbox"));
            Assert.Equal(0, await CountAsync(store, "02_processing"));
            Assert.Equal(0, await CountAsync(store, "04_failed"));
            var runs = File.ReadAllLines(processed).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
            var twice = runs.Count(kv => kv.Value > 1);
            TestFigures.Report(output, "cluster kill", $"{Files} files archived once each; {runs.Count} processed, {twice} twice (running on the killed silo at the kill)");
            Assert.Equal(Files, runs.Count);
            // Only attempts cut by the kill run again: at most the killed silo's slots.
            Assert.True(twice <= Slots, $"{twice} files were processed twice");
            // The killed silo's job folders (same machine, shared work folder) were removed by the survivor.
            await WaitUntilAsync(() => Task.FromResult(JobFolders(killedPid).Count == 0), "the killed silo's job folders removed", survivor);

            // Started again in its folder: it joins the running cluster (no cluster-wide wake-up) and sends the rows it
            // had journaled before the kill; then ClickHouse has every file, Complete.
            await using var restarted = Start(victim == first ? "a" : "b", redis, kafka);
            await restarted.WaitForStdoutAsync(o => o.Contains("Joined a running cluster", StringComparison.Ordinal), "the restarted silo to join the running cluster");
            using var client = new ClickHouseClient($"Host={clickHouse.Url.Host};Port={clickHouse.Url.Port};Protocol=http;Username=default;Password=");
            long complete = 0, rows = 0;
            await WaitUntilAsync(async () =>
            {
                complete = await CountRowsAsync(client, "status = 'Complete'");
                rows = await CountRowsAsync(client, "1");
                return complete == Files;
            }, $"{Files} Complete rows in ClickHouse", survivor);
            TestFigures.Report(output, "cluster kill", $"At {clock.Elapsed.TotalSeconds:0.0} s: ClickHouse has {rows} file(s), {complete} Complete");
            Assert.Equal(Files, rows);
        }
        finally
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    private async Task<long> CountRowsAsync(ClickHouseClient client, string where) =>
        Convert.ToInt64(await client.ExecuteScalarAsync($"SELECT count() FROM {_database}.cast_iron_file_status FINAL WHERE {where}", null, null, CancellationToken.None), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The <c>n</c> of every payload handled, by any silo, duplicates included.</summary>
    private static List<string> Handled(string prefix)
    {
        var folder = Path.GetDirectoryName(prefix)!;
        return [.. Directory.EnumerateFiles(folder, Path.GetFileName(prefix) + ".*").SelectMany(File.ReadAllLines).Where(l => l.Length > 0)];
    }

    private List<string> JobFolders(int pid)
    {
        var work = Path.Combine(_root, "work");
        return Directory.Exists(work) ? [.. Directory.EnumerateDirectories(work, $"p{pid}-*")] : [];
    }

    private async Task<List<string>> KeysAsync(IObjectStore store, string stage) =>
        [.. (await store.ListAsync(_bucket, $"{Config}/{stage}", recursive: false).ToListAsync()).Select(i => i.Key).Where(k => k.EndsWith(".dat", StringComparison.Ordinal))];

    private async Task<int> CountAsync(IObjectStore store, string stage) => (await KeysAsync(store, stage)).Count;

    /// <summary>A silo of the cluster in its own folder (kept, so it can start again there), one work folder for all.</summary>
    private SiloProcess Start(string name, RedisPeer redis, KafkaPeer kafka)
    {
        var environment = s3.SeedVariables();
        environment["MINIO_ETL_BUCKET"] = _bucket;
        environment["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"] = "";
        environment["KAFKA_BROKER"] = kafka.BootstrapServers;
        environment["KAFKA_TOPIC_CASTIRON_ETL_SOURCE_FILE"] = $"castiron_etl_source_file-{Suffix}";
        environment["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = $"castiron_text_payload-{Suffix}";
        environment["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = $"castiron_video_payload-{Suffix}";
        environment["KAFKA_PIZZA_TRACKER_TOPIC"] = $"pizza-tracker-{Suffix}";
        environment["CLICKHOUSE_HOST"] = clickHouse.Url.Host;
        environment["CLICKHOUSE_PORT"] = $"{clickHouse.Url.Port}";
        environment["CLICKHOUSE_DATABASE"] = _database;
        foreach (var (variable, value) in SiloProcess.ClusterVariables(redis.ConnectionString, "test-" + Suffix))
        {
            environment[variable] = value;
        }
        return SiloProcess.StartWith(Path.Combine(_root, "silo-" + name), ownsFolder: false, environment, null,
            "--CastIron:ReconcileInterval=00:00:00",
            "--CastIron:RecoveryInterval=00:00:05",
            // More attempts in flight than cores: more of them are cut by the kill.
            $"--CastIron:Processing:MaxConcurrency={Slots}",
            $"--CastIron:Processing:PluginsPath={Path.Combine(AppContext.BaseDirectory, "test-plugins")}",
            $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work")}");
    }

    private static async Task<bool> AnswersAsync(SiloProcess silo, string route)
    {
        try
        {
            using var response = await silo.Http.GetAsync(route);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static async Task<int> Silos(SiloProcess silo)
    {
        try
        {
            var status = await silo.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/manager/status");
            return status.GetProperty("message").GetProperty("silos").GetArrayLength();
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, string what, SiloProcess silo, TimeSpan? timeout = null, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (!await condition())
        {
            Assert.False(silo.HasExited, $"the silo exited while waiting for {what}\nstderr:\n{silo.Stderr}");
            if (DateTime.UtcNow > deadline)
            {
                output.WriteLine(silo.Stdout.Length > 6000 ? silo.Stdout[^6000..] : silo.Stdout);
                Assert.Fail($"timed out waiting for {what}{(describe is null ? "" : "\n" + describe())}");
            }

            await Task.Delay(500);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

/// <summary>
/// Tests sharing one RADOS Gateway and one ClickHouse peer (each started once for the assembly). They run alone, after
/// the assembly's other tests: the kill test measures a cluster recovering, and on two cores the memory and backlog
/// tests running beside it made its survivor several times slower (a CI run timed out that way).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterPeersCollection : ICollectionFixture<S3Peer>, ICollectionFixture<Orleans.CastIron.ClickHousePeer.ClickHousePeer>
{
    public const string Name = "s3+clickhouse";
}
