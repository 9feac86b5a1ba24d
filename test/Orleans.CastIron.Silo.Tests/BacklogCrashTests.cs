using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The silo binary as a real process, stopped with SIGTERM and then killed with SIGKILL in the middle of a 1,000-file
/// backlog whose config allows one attempt: every file must still end Complete, and only files whose processor was
/// running at the kill may have been processed twice.
/// </summary>
public sealed class BacklogCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Files = 1000;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-crash-tests", Guid.NewGuid().ToString("N"));

    private string Bucket => Path.Combine(_root, "etl");

    [Fact]
    public async Task SigtermThenKill9_DuringABacklogWithOneAttempt_EveryFileCompletes_AndOnlyRunningOnesRepeat()
    {
        Directory.CreateDirectory(Path.Combine(Bucket, "crash"));
        var processed = Path.Combine(_root, "processed.log");
        // The script records the file once its work is done; a rerun of a finished-but-unreported attempt shows up twice.
        await File.WriteAllTextAsync(Path.Combine(Bucket, "crash", "cfg.toml"), $"""
            [castiron.etl]
            enabled = true
            handled_file_glob = ".dat"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            max_attempts = 1
            shell = 'sleep 0.02; echo "$ETL_FILE_ID" >> {processed}'
            """);

        var silo = Start();
        try
        {
            await WaitUntilAsync(silo, () => Task.FromResult(File.Exists(Path.Combine(Bucket, "crash", "05_canceled", ".keep"))), "config registered");
            var inbox = Path.Combine(Bucket, "crash", "01_inbox");
            for (var i = 0; i < Files; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(inbox, $"f{i:0000}.dat"), $"{i}\n");
            }

            await WaitUntilAsync(silo, () => Task.FromResult(Archived() >= 150), "150 files archived");
            var beforeTerm = Archived();
            var term = await silo.StopAsync(kill: false);
            TestFigures.Report(output, "backlog kill", $"SIGTERM after {beforeTerm} archived: exit code {term}, {Archived()} archived at exit");
            Assert.Equal(0, term);

            await silo.DisposeAsync();
            silo = Start();
            await WaitUntilAsync(silo, () => Task.FromResult(Archived() >= 550), "550 files archived");
            var beforeKill = Archived();
            await silo.StopAsync(kill: true);
            TestFigures.Report(output, "backlog kill", $"SIGKILL after {beforeKill} archived");

            await silo.DisposeAsync();
            silo = Start();
            await WaitUntilAsync(silo, () => Task.FromResult(Archived() == Files), $"all {Files} files archived", TimeSpan.FromMinutes(3));
            var records = await FilesAsync(silo);
            await WaitUntilAsync(silo, 
                async () => (records = await FilesAsync(silo)).Count(r => r.GetProperty("status").GetString() == "Complete") == Files,
                "every status Complete");

            Assert.Equal(Files, records.Count);
            Assert.All(records, r => Assert.Equal("Complete", r.GetProperty("status").GetString()));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(Bucket, "crash", "01_inbox"), "*.dat"));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(Bucket, "crash", "02_processing"), "*.dat"));
            Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(Bucket, "crash", "04_failed")), f => !f.EndsWith(".keep", StringComparison.Ordinal));

            var runs = File.ReadAllLines(processed).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
            var twice = runs.Count(kv => kv.Value > 1);
            var interrupted = records.Count(r => r.GetProperty("interruptions").GetInt32() > 0);
            TestFigures.Report(output, "backlog kill", $"{runs.Count} files processed, {twice} twice, {interrupted} with an interrupted attempt");
            Assert.Equal(Files, runs.Count);
            Assert.All(records, r => Assert.Equal(1, r.GetProperty("attempts").GetInt32()));
            // Only attempts running at the kill can repeat: at most the silo's slots (2 on this machine, cores by default).
            Assert.True(twice <= Environment.ProcessorCount, $"{twice} files were processed twice");
            Assert.True(twice <= interrupted, $"{twice} repeats but only {interrupted} interrupted attempts");
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    /// <summary>The silo binary on the test's data folder, kept across restarts; a short grace period for SIGTERM.</summary>
    private SiloProcess Start()
    {
        var silo = SiloProcess.StartIn(_root, ownsFolder: false, [
            $"--CastIron:LocalFolder:RootPath={_root}",
            "--CastIron:LocalFolder:ScanInterval=00:00:00.250",
            "--CastIron:LocalFolder:SettleTime=00:00:00.100",
            $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work")}",
            "--CastIron:Processing:ShutdownGracePeriod=00:00:05"]);
        output.WriteLine($"silo started in {_root}");
        return silo;
    }

    private static async Task<List<JsonElement>> FilesAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("/files?limit=5000")).EnumerateArray()];

    private static async Task WaitUntilAsync(SiloProcess silo, Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (true)
        {
            Assert.False(silo.HasExited, $"the silo exited while waiting for {what}\nstderr:\n{silo.Stderr}");
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Still starting.
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }

    private int Archived() =>
        Directory.Exists(Path.Combine(Bucket, "crash", "03_archive"))
            ? Directory.EnumerateFiles(Path.Combine(Bucket, "crash", "03_archive"), "*.dat").Count()
            : 0;

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("CASTIRON_KEEP_TEST_DATA") is { Length: > 0 })
        {
            return;
        }

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
