using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.CastIron.Redis.Tests;
using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// Two silo processes in one cluster on a real redis-server, sharing the folder store (and one work folder) as they
/// would share a bucket, in the middle of a backlog whose config allows one attempt: one silo stopped with SIGTERM
/// hands its work over to the other; Redis frozen for a while (SIGSTOP) holds the cluster up without losing a file or
/// running one twice. The processor is a shell script that records each file it processed, with the silo that ran it.
/// </summary>
[Collection(ClusterStopCollection.Name)]
public sealed class ClusterStopTests(ITestOutputHelper output) : IDisposable
{
    private const int Files = 300;
    private const int Slots = 4;
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-cluster-tests", Guid.NewGuid().ToString("N"));

    private string Config => Path.Combine(_root, "etl", "stop");

    private string Processed => Path.Combine(_root, "processed.log");

    /// <summary>
    /// SIGTERM to the busier of two silos once both are processing: it stops taking attempts, lets its running ones
    /// finish, leaves the cluster and exits 0 within its grace period; the survivor takes the rest of the backlog
    /// (the jobs that were waiting for a slot on the stopped silo included). Every file is processed once and archived
    /// once, Complete on its first attempt.
    /// </summary>
    [Fact]
    public async Task TwoSilos_OneGivenSigtermMidBacklog_ExitsCleanly_AndTheOtherFinishesEveryFileOnce()
    {
        using var redis = new RedisPeer();
        await WriteConfigAsync();
        var first = Start("a", redis);
        var second = Start("b", redis);
        var silos = new[] { first, second };
        try
        {
            var clock = await StartBacklogAsync(first, second, Files / 5);

            // The one stopped is the one that did more of the work so far.
            var (victim, survivor) = RunsBy(first.Id) >= RunsBy(second.Id) ? (first, second) : (second, first);
            var victimName = victim == first ? "a" : "b";
            var atTerm = clock.Elapsed;
            var archivedAtTerm = Archived();
            var victimRuns = RunsBy(victim.Id);
            var survivorRuns = RunsBy(survivor.Id);
            var stopping = Stopwatch.StartNew();
            var code = await victim.StopAsync(kill: false);
            var tookToExit = stopping.Elapsed;
            var log = victim.Stdout;
            var stoppingLine = log.Split('\n').FirstOrDefault(l => l.Contains("Stopping: ", StringComparison.Ordinal))?.Trim() ?? "(no 'Stopping:' line logged)";
            var problems = Problems(log[Math.Max(0, log.IndexOf("Application is shutting down", StringComparison.Ordinal))..]);
            TestFigures.Report(output, "cluster sigterm", $"At {atTerm.TotalSeconds:0.0} s: SIGTERM of silo {victimName} after {archivedAtTerm} files archived (it had run {victimRuns}, the survivor {survivorRuns}); exit code {code} after {tookToExit.TotalSeconds:0.0} s (at {(atTerm + tookToExit).TotalSeconds:0.0} s), {Archived()} archived at its exit");
            TestFigures.Report(output, "cluster sigterm", $"The stopped silo logged: {stoppingLine}; warnings/errors while stopping: {(problems.Count == 0 ? "none" : string.Join(" | ", problems))}");
            Assert.True(code == 0, $"exit code {code}\nstderr:\n{victim.Stderr}\nstdout:\n{Tail(victim.Stdout, 6000)}");
            Assert.True(tookToExit < Grace, $"the stopped silo took {tookToExit} to exit (grace {Grace})");
            // It left the cluster rather than being found dead.
            await WaitUntilAsync(() => Silos(survivor).Result == 1, "the survivor seeing one silo", [survivor], TimeSpan.FromSeconds(30));
            TestFigures.Report(output, "cluster sigterm", $"At {clock.Elapsed.TotalSeconds:0.0} s the survivor lists one silo");

            // A graceful stop interrupts nothing: its running attempts finished and reported within the grace period.
            var interrupted = await FinishAsync("cluster sigterm", clock, [survivor]);
            Assert.Equal(0, interrupted);
            var after = RunsBy(survivor.Id) - survivorRuns;
            TestFigures.Report(output, "cluster sigterm", $"The survivor ran {after} file(s) after the SIGTERM; the stopped silo {RunsBy(victim.Id) - victimRuns} more while stopping");
            Assert.True(after > 0, "the survivor processed nothing after the SIGTERM");
            Assert.False(survivor.HasExited, $"the survivor exited\nstderr:\n{survivor.Stderr}");
        }
        finally
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    /// <summary>
    /// Redis frozen (SIGSTOP: connections stay open, nothing is answered) for 9 s while both silos process a backlog,
    /// then thawed: no silo dies, and every file still ends processed once, archived once, Complete on its first attempt.
    /// </summary>
    [Fact]
    public async Task TwoSilos_RedisFrozenMidBacklog_EveryFileStillEndsOnceArchived_AndNoSiloDies()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("REDIS_CONNECTION_STRING")))
        {
            output.WriteLine("REDIS_CONNECTION_STRING names a server this test does not own: it is not frozen");
            return;
        }

        using var redis = new RedisPeer();
        string pid;
        using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            var server = admin.GetServer(admin.GetEndPoints()[0]);
            pid = (await server.InfoAsync("server")).SelectMany(g => g).Single(kv => kv.Key == "process_id").Value;
        }

        await WriteConfigAsync();
        var first = Start("a", redis);
        var second = Start("b", redis);
        var silos = new[] { first, second };
        try
        {
            var clock = await StartBacklogAsync(first, second, Files / 6);

            var freezeAt = clock.Elapsed;
            var archivedAtFreeze = Archived();
            var runsAtFreeze = File.ReadAllLines(Processed).Length;
            var logAt = silos.Select(s => s.Stdout.Length).ToArray();
            await SignalAsync("-STOP", pid);
            try
            {
                for (var tick = 1; tick <= 9; tick++)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s, frozen: archived {Archived()}, processing {Count("02_processing")}, processor runs {RunsPerSilo()}");
                }
            }
            finally
            {
                await SignalAsync("-CONT", pid);
            }

            var thawAt = clock.Elapsed;
            var archivedAtThaw = Archived();
            var runsAtThaw = File.ReadAllLines(Processed).Length;
            Assert.All(silos, s => Assert.False(s.HasExited, $"a silo exited while Redis was frozen\nstderr:\n{s.Stderr}\nstdout:\n{Tail(s.Stdout, 6000)}"));
            await WaitUntilAsync(() => Archived() > archivedAtThaw, "a file archived after the thaw", silos, TimeSpan.FromSeconds(30));
            TestFigures.Report(output, "cluster redis frozen", $"Redis frozen from {freezeAt.TotalSeconds:0.0} s to {thawAt.TotalSeconds:0.0} s: {archivedAtFreeze} -> {archivedAtThaw} archived, {runsAtFreeze} -> {runsAtThaw} processor runs ended meanwhile; the next file archived {(clock.Elapsed - thawAt).TotalSeconds:0.0} s after the thaw");

            await FinishAsync("cluster redis frozen", clock, silos);
            Assert.All(silos, s => Assert.False(s.HasExited, $"a silo exited\nstderr:\n{s.Stderr}"));
            for (var i = 0; i < silos.Length; i++)
            {
                var problems = Problems(silos[i].Stdout[logAt[i]..]);
                TestFigures.Report(output, "cluster redis frozen", $"silo {(i == 0 ? "a" : "b")} logged from the freeze on: {(problems.Count == 0 ? "no warning or error" : string.Join(" | ", problems))}");
            }
        }
        finally
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    /// <summary>
    /// Waits for both silos, drops the backlog and returns once <paramref name="archived"/> files are archived and both
    /// silos have run some; the clock runs from the drop.
    /// </summary>
    private async Task<Stopwatch> StartBacklogAsync(SiloProcess first, SiloProcess second, int archived)
    {
        await StartedAsync(first, second);
        output.WriteLine($"silo a is process {first.Id}, silo b {second.Id}");
        var clock = Stopwatch.StartNew();
        await DropAsync();
        await WaitUntilAsync(() => Archived() >= archived && RunsBy(first.Id) > 0 && RunsBy(second.Id) > 0, $"{archived} files archived, both silos processing", [first, second]);
        return clock;
    }

    /// <summary>The warnings and errors in a console log, by category: how many, and the first one's message.</summary>
    private static List<string> Problems(string log)
    {
        var lines = log.Split('\n');
        var problems = new List<(string Category, string Message)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("warn:", StringComparison.Ordinal) || lines[i].StartsWith("fail:", StringComparison.Ordinal) || lines[i].StartsWith("crit:", StringComparison.Ordinal))
            {
                var message = i + 1 < lines.Length ? lines[i + 1].Trim() : "";
                problems.Add((lines[i].Trim(), message.Length > 120 ? message[..120] + "..." : message));
            }
        }

        return [.. problems.GroupBy(p => p.Category).Select(g => $"{g.Count()}x {g.Key} ({g.First().Message})")];
    }

    /// <summary>
    /// Waits for every file archived and Complete; checks each one was processed once, on its first attempt. Returns how
    /// many had an interrupted attempt (not counted as an attempt).
    /// </summary>
    private async Task<int> FinishAsync(string test, Stopwatch clock, SiloProcess[] silos)
    {
        var progress = new List<string>();
        var sampled = Stopwatch.StartNew();
        await WaitUntilAsync(() =>
        {
            var archivedNow = Archived();
            if (sampled.Elapsed >= TimeSpan.FromSeconds(5) || progress.Count == 0)
            {
                progress.Add($"{clock.Elapsed.TotalSeconds:0} s: archived {archivedNow}, inbox {Count("01_inbox")}, processing {Count("02_processing")}, failed {Count("04_failed")}, processor runs {RunsPerSilo()}");
                sampled.Restart();
            }

            return archivedNow >= Files;
        }, $"all {Files} files archived", silos, TimeSpan.FromSeconds(90), () => string.Join('\n', progress));
        output.WriteLine(string.Join('\n', progress));
        var archivedAt = clock.Elapsed;

        List<JsonElement> records = [];
        await WaitUntilAsync(() =>
        {
            records = Complete(silos[0]).Result;
            return records.Count >= Files;
        }, $"{Files} files Complete", silos, TimeSpan.FromSeconds(30), () => $"{records.Count} Complete");
        var interrupted = records.Count(r => r.GetProperty("interruptions").GetInt32() > 0);
        var runs = File.ReadAllLines(Processed).Select(l => l.Split(' ')[0]).GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        var twice = runs.Where(kv => kv.Value > 1).Select(kv => $"{kv.Key} x{kv.Value}").ToList();
        TestFigures.Report(output, test, $"At {archivedAt.TotalSeconds:0.0} s: all {Files} files archived; {records.Count} Complete, {interrupted} with an interrupted attempt; {runs.Count} processed, {twice.Count} more than once{(twice.Count > 0 ? ": " + string.Join(", ", twice.Take(20)) : "")}");

        // Every file in exactly one final state: archived once under its id, nothing left anywhere else.
        var archived = Directory.EnumerateFiles(Path.Combine(Config, "03_archive"), "*.dat").Select(Path.GetFileName).ToList();
        Assert.Equal(Files, archived.Count);
        Assert.Equal(Files, archived.Select(n => n![37..]).Distinct().Count());
        Assert.Equal(0, Count("01_inbox"));
        Assert.Equal(0, Count("02_processing"));
        Assert.Equal(0, Count("04_failed"));
        Assert.Equal(Files, records.Count);
        Assert.All(records, r => Assert.Equal(1, r.GetProperty("attempts").GetInt32()));
        Assert.Equal(Files, runs.Count);
        Assert.True(twice.Count == 0, $"processed more than once: {string.Join(", ", twice)}");
        return interrupted;
    }

    private async Task WriteConfigAsync()
    {
        Directory.CreateDirectory(Config);
        // The script records the file once its work is done, with the silo that ran it (setsid execs bash: its parent is
        // the silo); a file run twice shows up twice.
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
            shell = 'sleep 0.2; echo "$ETL_ORIGINAL_FILENAME $PPID" >> {Processed}'
            """);
        await File.WriteAllTextAsync(Processed, "");
    }

    private async Task StartedAsync(SiloProcess first, SiloProcess second)
    {
        await WaitUntilAsync(() => File.Exists(Path.Combine(Config, "05_canceled", ".keep")), "config registered", [first, second]);
        await WaitUntilAsync(() => Silos(first).Result == 2 && Silos(second).Result == 2, "both silos in the cluster", [first, second]);
    }

    private async Task DropAsync()
    {
        var inbox = Path.Combine(Config, "01_inbox");
        for (var i = 0; i < Files; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(inbox, $"f{i:000}.dat"), $"{i}\n");
        }
    }

    /// <summary>Processor runs that ended on the silo with process id <paramref name="pid"/>.</summary>
    private int RunsBy(int pid)
    {
        var suffix = " " + pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return File.ReadAllLines(Processed).Count(l => l.EndsWith(suffix, StringComparison.Ordinal));
    }

    /// <summary>Processor runs ended so far, by silo process id.</summary>
    private string RunsPerSilo() =>
        string.Join(" + ", File.ReadAllLines(Processed).GroupBy(l => l[(l.IndexOf(' ') + 1)..]).Select(g => $"{g.Count()} by {g.Key}"));

    private int Archived() => Count("03_archive");

    private int Count(string stage) =>
        Directory.Exists(Path.Combine(Config, stage)) ? Directory.EnumerateFiles(Path.Combine(Config, stage), "*.dat").Count() : 0;

    /// <summary>A silo of the cluster: the shared bucket folder and work folder, short recovery so the test is quick.</summary>
    private SiloProcess Start(string name, RedisPeer redis)
    {
        var environment = SiloProcess.ClusterVariables(redis.ConnectionString, "test-" + Path.GetFileName(_root));
        return SiloProcess.StartWith(Path.Combine(_root, "silo-" + name), ownsFolder: false, environment, null,
            $"--CastIron:LocalFolder:RootPath={_root}",
            "--CastIron:LocalFolder:ScanInterval=00:00:00.250",
            "--CastIron:LocalFolder:SettleTime=00:00:00.100",
            "--CastIron:RecoveryInterval=00:00:05",
            $"--CastIron:Processing:MaxConcurrency={Slots}",
            $"--CastIron:Processing:ShutdownGracePeriod={Grace}",
            $"--CastIron:Processing:PluginsPath={Path.Combine(AppContext.BaseDirectory, "test-plugins")}",
            $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work")}");
    }

    private static async Task<List<JsonElement>> Complete(SiloProcess silo)
    {
        try
        {
            return [.. (await silo.Http.GetFromJsonAsync<JsonElement>($"/files?status=Complete&limit={Files * 2}")).EnumerateArray()];
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }

    private static async Task<int> Silos(SiloProcess silo)
    {
        try
        {
            var status = await silo.Http.GetFromJsonAsync<JsonElement>("/manager/status");
            return status.GetProperty("message").GetProperty("silos").GetArrayLength();
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task SignalAsync(string signal, string pid)
    {
        using var kill = Process.Start("kill", [signal, pid]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private static string Tail(string text, int length) => text.Length > length ? text[^length..] : text;

    private async Task WaitUntilAsync(Func<bool> condition, string what, SiloProcess[] silos, TimeSpan? timeout = null, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!condition())
        {
            foreach (var silo in silos)
            {
                Assert.False(silo.HasExited, $"a silo exited while waiting for {what}\nstderr:\n{silo.Stderr}\nstdout:\n{Tail(silo.Stdout, 6000)}");
            }

            if (DateTime.UtcNow > deadline)
            {
                foreach (var silo in silos)
                {
                    // Its warnings and errors first (the tail is mostly job events).
                    output.WriteLine($"--- silo {silo.Id}: warnings and errors ---");
                    output.WriteLine(string.Join('\n', Problems(silo.Stdout)));
                    output.WriteLine($"--- silo {silo.Id} (last 6000 characters) ---");
                    output.WriteLine(Tail(silo.Stdout, 6000));
                }

                Assert.Fail($"timed out waiting for {what}: {Archived()} archived, {Count("01_inbox")} in the inbox, {Count("02_processing")} processing, {Count("04_failed")} failed{(describe is null ? "" : "\n" + describe())}");
            }

            await Task.Delay(100);
        }
    }

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

/// <summary>
/// The SIGTERM and frozen-Redis cluster tests: alone, after the assembly's parallel tests (two silo processes each, and
/// the hand-over and recovery they measure would be slowed by the memory and backlog tests on two cores).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterStopCollection
{
    public const string Name = "cluster-stop";
}
