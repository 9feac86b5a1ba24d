using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.CastIron.Grains.Tests;

/// <summary><c>max_concurrency</c>: files of one config processed at once, on one silo and across a cluster.</summary>
public class ConfigConcurrencyTests
{
    /// <summary>A shell processor that logs when it starts and ends (nanoseconds) and takes <paramref name="seconds"/>.</summary>
    private static string Logging(string log, double seconds) =>
        $"echo \"start $(date +%s%N)\" >> '{log}'; sleep {seconds.ToString(CultureInfo.InvariantCulture)}; echo \"end $(date +%s%N)\" >> '{log}'";

    /// <summary>The most runs logged in <paramref name="log"/> that overlapped.</summary>
    private static int MostAtOnce(string log)
    {
        var (running, most) = (0, 0);
        var events = File.ReadAllLines(log)
            .Select(line => line.Split(' '))
            .Select(p => (At: long.Parse(p[1], CultureInfo.InvariantCulture), Change: p[0] == "start" ? 1 : -1))
            .OrderBy(e => e.At).ThenBy(e => e.Change);
        foreach (var (_, change) in events)
        {
            running += change;
            most = Math.Max(most, running);
        }

        return most;
    }

    private static async Task<string> RegisterAsync(WorkflowHost host, string config)
    {
        var folder = Configs.Folder();
        await host.DropAsync($"{folder}/cfg.toml", config);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "config registered");
        return folder;
    }

    private static async Task WaitCompleteAsync(WorkflowHost host, string folder, int count)
    {
        IReadOnlyList<FileStatusRecord> files = [];
        await WorkflowHost.WaitUntilAsync(
            async () => (files = await host.FilesAsync(folder)).Count(f => f.Status == FileStatus.Complete) == count,
            TimeSpan.FromMinutes(2),
            () => $"{count} files of {folder} Complete; seen {string.Join(", ", files.GroupBy(f => f.Status).Select(g => $"{g.Count()} {g.Key}"))}");
        Assert.All(files, f => Assert.Equal(1, f.Attempts));
    }

    private static int Archived(WorkflowHost host, string folder) =>
        host.List($"{folder}/03_archive").Count(k => !k.EndsWith("/.keep", StringComparison.Ordinal));

    [Fact]
    public async Task AConfigsLimit_IsReachedAndNeverExceeded_WhileAnotherConfigRunsBesideIt()
    {
        await using var host = await WorkflowHost.StartAsync(maxConcurrency: 8);
        var limitedLog = Path.Combine(host.Root, "limited.log");
        var freeLog = Path.Combine(host.Root, "free.log");
        var limited = await RegisterAsync(host, Configs.Shell(Logging(limitedLog, 0.3), extraEtl: "max_concurrency = 2"));
        var free = await RegisterAsync(host, Configs.Shell(Logging(freeLog, 0.3)));

        for (var i = 0; i < 10; i++)
        {
            await host.DropAsync($"{limited}/01_inbox/l{i}.csv", "x\n");
            await host.DropAsync($"{free}/01_inbox/f{i}.csv", "x\n");
        }

        await WaitCompleteAsync(host, limited, 10);
        await WaitCompleteAsync(host, free, 10);
        Assert.Equal(2, MostAtOnce(limitedLog));
        // The limited config's waiting files hold no silo slot the other could use.
        Assert.True(MostAtOnce(freeLog) >= 4, $"the unlimited config ran at most {MostAtOnce(freeLog)} at once");
    }

    [Fact]
    public async Task AConfigsLimit_HoldsAcrossTheCluster_NotPerSilo()
    {
        // Jobs placed at random, so both silos run files of the config (by default most would stay on the silo that
        // noticed the drop).
        await using var host = await WorkflowHost.StartAsync(maxConcurrency: 4, silos: 2, configure: silo => silo.Services.AddSingleton<Orleans.Runtime.PlacementStrategy, Orleans.Runtime.RandomPlacement>());
        var log = Path.Combine(host.Root, "one.log");
        var folder = await RegisterAsync(host, Configs.Shell(Logging(log, 0.2), extraEtl: "max_concurrency = 1"));

        for (var i = 0; i < 12; i++)
        {
            await host.DropAsync($"{folder}/01_inbox/f{i}.csv", "x\n");
        }

        // Each silo keeps its own status index here (a cluster shares Redis or ClickHouse): count the archive.
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Archived(host, folder) == 12), TimeSpan.FromMinutes(2), () => $"12 files archived; {Archived(host, folder)} so far");
        Assert.Equal(12, File.ReadAllLines(log).Count(l => l.StartsWith("start", StringComparison.Ordinal)));
        Assert.Equal(1, MostAtOnce(log));
    }

    [Fact]
    public async Task ASlotsGrainLostWithItsSilo_GrantsNothingUntilTheSilosRenewedWhatTheyHold()
    {
        await using var host = await WorkflowHost.StartAsync(silos: 2);
        var (a, b) = (host.Cluster.Silos[0].SiloAddress, host.Cluster.Silos[1].SiloAddress);
        var slots = host.Grains.GetGrain<IConfigSlotsGrain>("cfg-" + Guid.NewGuid().ToString("N"));

        // With two silos a new activation first waits for their renewals (3 s): the first grant comes after that.
        Assert.True(await slots.AcquireAsync(a, "job-1", 1, TimeSpan.FromSeconds(5)));
        Assert.False(await slots.AcquireAsync(b, "job-2", 1, TimeSpan.FromMilliseconds(300)));

        // The activation is lost; silo a still runs job-1.
        await slots.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(300);
        Assert.False(await slots.AcquireAsync(b, "job-2", 1, TimeSpan.Zero), "a new activation granted before the silos renewed");
        await slots.RenewAsync(a, ["job-1"]);
        Assert.False(await slots.AcquireAsync(b, "job-2", 1, TimeSpan.FromSeconds(4)), "granted while job-1 is still held");

        await slots.ReleaseAsync("job-1");
        Assert.True(await slots.AcquireAsync(b, "job-2", 1, TimeSpan.FromSeconds(5)));
        // A holding its silo no longer lists (a lost release) is dropped at that silo's renewal once its grant is old.
        await Task.Delay(ConfigSlotsGrain.Lease / 2 + TimeSpan.FromMilliseconds(200));
        await slots.RenewAsync(b, []);
        Assert.True(await slots.AcquireAsync(a, "job-3", 1, TimeSpan.Zero));
    }
}
