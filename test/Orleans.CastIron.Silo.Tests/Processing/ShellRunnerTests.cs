using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Shell;
using Orleans.CastIron.Storage.LocalFolder.Tests;

namespace Orleans.CastIron.Silo.Tests.Processing;

/// <summary>The shell runner with real bash: scripts run in their own process group, which dies with them.</summary>
[Collection(IsolatedCollection.Name)]
public sealed class ShellRunnerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "castiron-shell-tests", Guid.NewGuid().ToString("N"));
    private readonly ListLogger<ShellRunner> _log = new();
    private readonly List<int> _started = [];

    public ShellRunnerTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        // Processes a failing test may have left behind: only the ones these scripts started, by their id.
        foreach (var pid in _started.Where(IsAlive))
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // Gone meanwhile.
            }
        }

        Directory.Delete(_folder, recursive: true);
    }

    private async Task<(ShellResult Result, OutputTail Output, TimeSpan Took)> RunAsync(string script, CancellationToken cancellationToken = default)
    {
        var runner = new ShellRunner(_log);
        var output = new OutputTail();
        var clock = Stopwatch.StartNew();
        // A hard stop for the test itself, so a regression fails instead of hanging for the script's sleep.
        var result = await runner.RunAsync(script, _folder, new Dictionary<string, string>(), _ => Task.CompletedTask, output, cancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30));
        return (result, output, clock.Elapsed);
    }

    /// <summary>The pids a script wrote to <paramref name="file"/>, one a line.</summary>
    private List<int> Pids(string file)
    {
        var pids = File.ReadAllLines(Path.Combine(_folder, file)).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
        _started.AddRange(pids);
        return pids;
    }

    /// <summary>Alive, and not a zombie waiting for its (re)parent to reap it.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task AssertDeadAsync(IEnumerable<int> pids)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (pids.Any(IsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.DoesNotContain(pids, IsAlive);
    }

    [Fact]
    public async Task ABackgroundChildHoldingStdout_DoesNotHoldTheJob_AndIsKilled()
    {
        var (result, output, took) = await RunAsync("sleep 400 & echo $! > bg.pid; echo done");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("done", output.ToString(), StringComparison.Ordinal);
        Assert.True(took < TimeSpan.FromSeconds(3), $"took {took}");
        await AssertDeadAsync(Pids("bg.pid"));
    }

    [Fact]
    public async Task OnTimeout_TheWholeGroupIsKilled_OrphansIncluded()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        // The subshell exits at once, so its sleep is an orphan: no longer in the script's process tree.
        var script = "(sleep 400 & echo $! > orphan.pid); sleep 400 & echo $! > child.pid; wait";

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunAsync(script, timeout.Token));

        await AssertDeadAsync([.. Pids("orphan.pid"), .. Pids("child.pid")]);
    }

    [Fact]
    public async Task AChildThatLeftTheGroup_IsLogged_AndDoesNotHoldTheJob()
    {
        // The child writes its pid only once it has its own session; the script waits for that, so the child has
        // escaped before the script exits.
        var (result, _, took) = await RunAsync("setsid bash -c 'echo $$ > escaped.pid; exec sleep 400' & while [ ! -s escaped.pid ]; do sleep 0.01; done; echo done");
        Pids("escaped.pid");

        Assert.Equal(0, result.ExitCode);
        Assert.True(took < TimeSpan.FromSeconds(5), $"took {took}");
        Assert.Contains(_log.Warnings, w => w.Contains("left its process group", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AHundredMegabyteLine_CostsBoundedMemory_AndIsMarkedTruncated()
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var (result, output, _) = await RunAsync("head -c 100000000 /dev/zero | tr '\\0' x; echo; echo end");

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(0, result.ExitCode);
        var text = output.ToString();
        Assert.EndsWith("end\n", text, StringComparison.Ordinal);
        Assert.Contains("characters of this line dropped", text, StringComparison.Ordinal);
        // Reading the line whole costs 200 MB per copy of it (UTF-16); here only buffers and the kept part count.
        Assert.True(allocated < 50_000_000, $"allocated {allocated:N0} bytes");
    }
}

/// <summary>Tests that measure the process (memory, child processes) and so must not run beside others.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsolatedCollection
{
    public const string Name = "isolated";
}
