using Xunit;
using Orleans.CastIron.Files;
using Orleans.CastIron.Storage.LocalFolder.Providers;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

public sealed class JobTimerStoreTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "castiron-timer-tests", Guid.NewGuid().ToString("N"));

    private static string Id(int n) => FileIds.ForDrop("etl", $"k{n}", "v");

    [Fact]
    public async Task Timers_AreDueInTimeOrder_MoveWhenSetAgain_AndSurviveARestart()
    {
        var store = new FolderJobTimerStore(_folder);
        await store.SetAsync(Id(1), T0.AddSeconds(30));
        await store.SetAsync(Id(2), T0.AddSeconds(10));
        await store.SetAsync(Id(3), T0.AddSeconds(20));
        await store.SetAsync(Id(3), T0.AddHours(1)); // moved

        Assert.Equal([Id(2), Id(1)], (await store.ClaimDueAsync(T0.AddSeconds(30), 10, T0.AddSeconds(60))).Select(t => t.FileId));
        // Claimed until a minute: not due again before, and a restart keeps the claim's time.
        Assert.Empty(await store.ClaimDueAsync(T0.AddSeconds(59), 10, T0.AddSeconds(90)));

        var reloaded = new FolderJobTimerStore(_folder);
        Assert.Equal(3, reloaded.Count);
        Assert.Equal(new[] { new JobTimer(Id(1), T0.AddSeconds(90)), new JobTimer(Id(2), T0.AddSeconds(90)) }.OrderBy(t => t.FileId, StringComparer.Ordinal), (await reloaded.ClaimDueAsync(T0.AddMinutes(1), 10, T0.AddSeconds(90))).OrderBy(t => t.FileId, StringComparer.Ordinal));
        Assert.Equal(T0.AddHours(1), (await reloaded.PageAsync(null, 10)).Single(t => t.FileId == Id(3)).At);
    }

    [Fact]
    public async Task Remove_WithATime_KeepsATimerSetAgainMeanwhile()
    {
        var store = new FolderJobTimerStore(_folder);
        await store.SetAsync(Id(1), T0);
        await store.SetAsync(Id(1), T0.AddMinutes(5));

        await store.RemoveAsync(Id(1), onlyIfAt: T0);
        Assert.Equal(1, store.Count);
        await store.RemoveAsync(Id(1), onlyIfAt: T0.AddMinutes(5));
        Assert.Equal(0, store.Count);
        Assert.Equal(0, new FolderJobTimerStore(_folder).Count);
    }

    [Fact]
    public async Task Pages_CoverEveryTimerOnce()
    {
        var store = new FolderJobTimerStore(_folder);
        for (var i = 0; i < 25; i++)
        {
            await store.SetAsync(Id(i), T0.AddSeconds(i));
        }

        var seen = new List<string>();
        string? after = null;
        while (await store.PageAsync(after, 10) is { Count: > 0 } page)
        {
            seen.AddRange(page.Select(t => t.FileId));
            after = page[^1].FileId;
        }

        Assert.Equal(Enumerable.Range(0, 25).Select(Id).Order(StringComparer.Ordinal), seen);
    }

    [Fact]
    public async Task AFolderDeletedWhileRunning_IsRecreated()
    {
        var store = new FolderJobTimerStore(_folder);
        Directory.Delete(_folder, recursive: true);

        await store.SetAsync(Id(1), T0);
        await store.RemoveAsync(Id(2));

        Assert.Equal(1, new FolderJobTimerStore(_folder).Count);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
