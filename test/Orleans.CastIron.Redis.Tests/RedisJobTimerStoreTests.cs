using Orleans.CastIron.Redis.Providers;

namespace Orleans.CastIron.Redis.Tests;

[Collection(RedisCollection.Name)]
public class RedisJobTimerStoreTests(RedisPeer redis)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private RedisJobTimerStore NewStore(string? prefix = null) => new(redis.Connection, prefix ?? "test:" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task DueTimers_AreClaimedEarliestFirst_UpToTheLimit_AndAMovedTimerFiresAtItsNewTime()
    {
        var store = NewStore();
        await store.SetAsync("c", T0.AddSeconds(3));
        await store.SetAsync("a", T0.AddSeconds(1));
        await store.SetAsync("b", T0.AddSeconds(2));
        await store.SetAsync("late", T0.AddHours(1));
        await store.SetAsync("c", T0.AddSeconds(-5));

        var due = await store.ClaimDueAsync(T0.AddSeconds(10), limit: 3, claimUntil: T0.AddSeconds(40));

        Assert.Equal(["c", "a", "b"], due.Select(t => t.FileId));
        Assert.All(due, t => Assert.Equal(T0.AddSeconds(40), t.At));
        // Claimed timers are not due again before their claim ends; the fourth comes with its own time.
        Assert.Empty(await store.ClaimDueAsync(T0.AddSeconds(10), 10, T0.AddSeconds(40)));
        Assert.Equal(["a", "b", "c"], (await store.ClaimDueAsync(T0.AddSeconds(40), 10, T0.AddSeconds(80))).Select(t => t.FileId).Order());
        Assert.Equal(["a", "b", "c", "late"], (await store.ClaimDueAsync(T0.AddHours(1), 10, T0.AddHours(2))).Select(t => t.FileId));
    }

    [Fact]
    public async Task PumpsOfSeveralSilos_ClaimingTogether_FireEachTimerOnce()
    {
        var prefix = "test:" + Guid.NewGuid().ToString("N");
        var setter = NewStore(prefix);
        for (var i = 0; i < 2000; i++)
        {
            await setter.SetAsync($"job-{i}", T0.AddMilliseconds(i));
        }

        // Four silos' pumps, each claiming small pages as fast as they can.
        var claims = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var store = NewStore(prefix);
            var mine = new List<string>();
            while (await store.ClaimDueAsync(T0.AddMinutes(1), 16, T0.AddMinutes(5)) is { Count: > 0 } page)
            {
                mine.AddRange(page.Select(t => t.FileId));
            }

            return mine;
        })));

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(2000, all.Count);
        Assert.Equal(2000, all.Distinct().Count());
    }

    [Fact]
    public async Task AClaimNotRemoved_TheSiloDiedWaking_FiresAgainWhenTheClaimEnds()
    {
        var store = NewStore();
        await store.SetAsync("job", T0);
        var claimed = Assert.Single(await store.ClaimDueAsync(T0, 10, T0.AddSeconds(30)));

        Assert.Empty(await store.ClaimDueAsync(T0.AddSeconds(29), 10, T0.AddSeconds(60)));
        var again = Assert.Single(await store.ClaimDueAsync(T0.AddSeconds(30), 10, T0.AddSeconds(60)));
        Assert.Equal("job", again.FileId);
        // The first claimer's late removal does not remove the second claim.
        await store.RemoveAsync("job", onlyIfAt: claimed.At);
        Assert.Single(await store.PageAsync(null, 10));
    }

    [Fact]
    public async Task RemovingOnlyIfAt_KeepsATimerTheJobMovedMeanwhile()
    {
        var store = NewStore();
        await store.SetAsync("job", T0);
        await store.SetAsync("job", T0.AddMinutes(1));

        await store.RemoveAsync("job", onlyIfAt: T0);
        Assert.Equal(T0.AddMinutes(1), Assert.Single(await store.PageAsync(null, 10)).At);

        await store.RemoveAsync("job", onlyIfAt: T0.AddMinutes(1));
        Assert.Empty(await store.ClaimDueAsync(T0.AddHours(1), 10, T0.AddHours(2)));
        Assert.Empty(await store.PageAsync(null, 10));
    }

    [Fact]
    public async Task Paging_GoesThroughEveryTimerInFileIdOrder_WhateverTheirTimes()
    {
        var store = NewStore();
        var ids = Enumerable.Range(0, 25).Select(i => $"file-{i:00}").ToList();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            await store.SetAsync(id, T0.AddSeconds(25 - i));
        }

        var seen = new List<string>();
        string? after = null;
        while (await store.PageAsync(after, 10) is { Count: > 0 } page)
        {
            seen.AddRange(page.Select(t => t.FileId));
            after = page[^1].FileId;
        }

        Assert.Equal(ids, seen);
    }

    [Fact]
    public async Task TwoSilosStores_OnTheSameService_SeeTheSameTimers_OtherServicesDoNot()
    {
        var prefix = "test:" + Guid.NewGuid().ToString("N");
        var a = NewStore(prefix);
        var b = NewStore(prefix);
        var other = NewStore();

        await a.SetAsync("in-flight-on-a", T0);

        Assert.Empty(await other.ClaimDueAsync(T0, 10, T0.AddMinutes(1)));
        Assert.Equal("in-flight-on-a", Assert.Single(await b.ClaimDueAsync(T0, 10, T0.AddMinutes(1))).FileId);
    }
}

public class RedisClusterOptionsTests
{
    [Fact]
    public void Settings_AreCheckedNamingTheVariable_OnlyWhenRedisIsSet()
    {
        Assert.Empty(new RedisClusterOptions { Redis = "UNSET", ClusterId = "" }.Validate());
        var problems = new RedisClusterOptions { Redis = "redis:6379", ClusterId = " ", AdvertisedAddress = "no-such-host.invalid" }.Validate().ToList();

        Assert.Contains(problems, p => p.StartsWith("CastIron:Cluster:ClusterId (CASTIRON_CLUSTER_ID)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("CastIron:Cluster:AdvertisedAddress (CASTIRON_ADVERTISED_ADDRESS) 'no-such-host.invalid' cannot be resolved", StringComparison.Ordinal));
        Assert.Empty(new RedisClusterOptions { Redis = "redis:6379", AdvertisedAddress = "10.1.2.3" }.Validate());
    }
}
