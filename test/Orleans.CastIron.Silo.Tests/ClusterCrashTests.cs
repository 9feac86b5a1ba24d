using System.Net.Http.Json;
using Orleans.CastIron.Redis.Tests;
using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// Two silo processes in one cluster on a real redis-server (grain state, membership and job timers there), sharing
/// the folder store as they would share a bucket, each with its own job folders: one is killed with SIGKILL in the
/// middle of a backlog, and the survivor finishes everything, the killed silo's in-flight jobs included.
/// </summary>
public sealed class ClusterCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Files = 300;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-cluster-tests", Guid.NewGuid().ToString("N"));

    private string Config => Path.Combine(_root, "etl", "crash");

    [Fact]
    public async Task TwoSilosOnRedis_OneKilledMidBacklog_EveryFileEndsArchivedOnce_BySurvivor()
    {
        using var redis = new RedisPeer();
        Directory.CreateDirectory(Config);
        var processed = Path.Combine(_root, "processed.log");
        await File.WriteAllTextAsync(Path.Combine(Config, "cfg.toml"), $"""
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

        await using var first = Start("a", redis);
        var second = Start("b", redis);
        try
        {
            await WaitUntilAsync(() => File.Exists(Path.Combine(Config, "05_canceled", ".keep")), "config registered", first);
            await WaitUntilAsync(() => Silos(first).Result == 2, "both silos in the cluster", first);
            for (var i = 0; i < Files; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(Config, "01_inbox", $"f{i:0000}.dat"), $"{i}\n");
            }

            await WaitUntilAsync(() => Archived() >= Files / 4, $"{Files / 4} files archived", first);
            var beforeKill = Archived();
            await second.StopAsync(kill: true);
            output.WriteLine($"SIGKILL of the second silo after {beforeKill} archived");

            await WaitUntilAsync(() => Archived() == Files, $"all {Files} files archived by the survivor", first, TimeSpan.FromMinutes(4));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(Config, "01_inbox"), "*.dat"));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(Config, "02_processing"), "*.dat"));
            Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(Config, "04_failed")), f => !f.EndsWith(".keep", StringComparison.Ordinal));
            var runs = File.ReadAllLines(processed).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
            var twice = runs.Count(kv => kv.Value > 1);
            output.WriteLine($"{Files} files archived once each; {runs.Count} processed, {twice} twice (running on the killed silo at the kill)");
            Assert.Equal(Files, runs.Count);
            Assert.True(twice <= 2 * Environment.ProcessorCount, $"{twice} files were processed twice");
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    /// <summary>A silo of the cluster: the shared bucket folder, its own job folders, short recovery so the test is quick.</summary>
    private SiloProcess Start(string name, RedisPeer redis)
    {
        var environment = new Dictionary<string, string>
        {
            ["CASTIRON_REDIS"] = redis.ConnectionString,
            ["CASTIRON_CLUSTER_ID"] = "test-" + Path.GetFileName(_root),
            ["CASTIRON_SERVICE_ID"] = "test-" + Path.GetFileName(_root),
            ["CASTIRON_ADVERTISED_ADDRESS"] = "127.0.0.1",
        };
        return SiloProcess.StartWith(Path.Combine(_root, "silo-" + name), ownsFolder: false, environment, null,
            $"--CastIron:LocalFolder:RootPath={_root}",
            "--CastIron:LocalFolder:ScanInterval=00:00:00.250",
            "--CastIron:LocalFolder:SettleTime=00:00:00.100",
            "--CastIron:RecoveryInterval=00:00:05",
            $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work-" + name)}");
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

    private async Task WaitUntilAsync(Func<bool> condition, string what, SiloProcess silo, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (!condition())
        {
            Assert.False(silo.HasExited, $"the silo exited while waiting for {what}\nstderr:\n{silo.Stderr}");
            if (DateTime.UtcNow > deadline)
            {
                output.WriteLine(silo.Stdout.Length > 6000 ? silo.Stdout[^6000..] : silo.Stdout);
                Assert.Fail($"timed out waiting for {what}: {Archived()} archived");
            }

            await Task.Delay(100);
        }
    }

    private int Archived() =>
        Directory.Exists(Path.Combine(Config, "03_archive")) ? Directory.EnumerateFiles(Path.Combine(Config, "03_archive"), "*.dat").Count() : 0;

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
