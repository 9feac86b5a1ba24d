using Orleans.CastIron.Files;
using Orleans.CastIron.Redis.Providers;

namespace Orleans.CastIron.Redis.Tests;

/// <summary>The cluster's shared file status on a real redis-server, as two silos see it.</summary>
[Collection(RedisCollection.Name)]
public class RedisFileStatusStoreTests(RedisPeer redis)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private RedisFileStatusStore NewStore(string prefix) => new(redis.Connection, prefix);

    private static FileStatusRecord Record(string id, FileStatus status, int second) => new()
    {
        Id = id,
        BucketName = "etl",
        FileName = $"etl/01_inbox/{id}-x.csv",
        OriginalFilename = "x.csv",
        Status = status,
        UpdatedAt = T0.AddSeconds(second),
    };

    [Fact]
    public async Task AWriteOnOneSilo_IsWhatEverySiloReads_AndMovesBetweenStatuses()
    {
        var prefix = "test:" + Guid.NewGuid().ToString("N");
        var a = NewStore(prefix);
        var b = NewStore(prefix);

        await a.UpsertAsync(Record("f1", FileStatus.Processing, 1));
        await a.UpsertAsync(Record("f2", FileStatus.Processing, 2));
        await a.UpsertAsync(Record("f1", FileStatus.Complete, 3) with { OriginalFilename = "ünïcode '; DROP \"x\"\n.csv" });

        var read = await b.GetAsync("f1");
        Assert.Equal(FileStatus.Complete, read!.Status);
        Assert.Equal("ünïcode '; DROP \"x\"\n.csv", read.OriginalFilename);
        Assert.Null(await b.GetAsync("unknown"));
        var counts = await b.CountAsync();
        Assert.Equal(1, counts[FileStatus.Complete]);
        Assert.Equal(1, counts[FileStatus.Processing]);
        Assert.Equal(["f2"], (await b.QueryAsync(FileStatus.Processing, 10)).Select(r => r.Id));
        Assert.Empty(await NewStore("test:" + Guid.NewGuid().ToString("N")).QueryAsync(null, 10));
    }

    [Fact]
    public async Task Pages_AreNewestFirst_WithOffsets_PerStatusAndOverall()
    {
        var store = NewStore("test:" + Guid.NewGuid().ToString("N"));
        for (var i = 0; i < 25; i++)
        {
            await store.UpsertAsync(Record($"f{i:00}", i % 2 == 0 ? FileStatus.Complete : FileStatus.Failed, i));
        }

        Assert.Equal(["f24", "f23", "f22"], (await store.QueryAsync(null, 3)).Select(r => r.Id));
        Assert.Equal(["f20", "f18"], (await store.QueryAsync(FileStatus.Complete, 2, offset: 2)).Select(r => r.Id));
        Assert.Equal(12, (await store.QueryAsync(FileStatus.Failed, 100)).Count);
        Assert.Empty(await store.QueryAsync(FileStatus.Failed, 10, offset: 12));
        Assert.Empty(await store.QueryAsync(null, 0));
    }

    [Fact]
    public async Task ConcurrentTransitionsOfManyFiles_LeaveEachInItsLastStatus_CountedOnce()
    {
        var store = NewStore("test:" + Guid.NewGuid().ToString("N"));
        await Parallel.ForEachAsync(Enumerable.Range(0, 300), async (i, _) =>
        {
            // One file's writes are serial (its job makes them); files run side by side.
            await store.UpsertAsync(Record($"f{i}", FileStatus.Queued, 0));
            await store.UpsertAsync(Record($"f{i}", FileStatus.Processing, 1));
            await store.UpsertAsync(Record($"f{i}", i % 3 == 0 ? FileStatus.Failed : FileStatus.Complete, 2));
        });

        var counts = await store.CountAsync();
        Assert.Equal(100, counts[FileStatus.Failed]);
        Assert.Equal(200, counts[FileStatus.Complete]);
        Assert.Equal(0, counts[FileStatus.Queued] + counts[FileStatus.Processing]);
        Assert.Equal(300, (await store.QueryAsync(null, 1000)).Count);
    }
}
