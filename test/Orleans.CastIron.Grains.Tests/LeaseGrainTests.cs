namespace Orleans.CastIron.Grains.Tests;

/// <summary>The lease that picks one silo for cluster-wide periodic work (reconciliation).</summary>
[Collection(ClusterCollection.Name)]
public class LeaseGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task OneHolderAtATime_RenewalKeepsIt_ExpiryHandsItOver()
    {
        var lease = fixture.Client.GetGrain<ILeaseGrain>($"test/{Guid.NewGuid():N}");

        Assert.True(await lease.TryAcquireAsync("silo-a", TimeSpan.FromMilliseconds(600)));
        Assert.False(await lease.TryAcquireAsync("silo-b", TimeSpan.FromMilliseconds(600)));
        Assert.True(await lease.TryAcquireAsync("silo-a", TimeSpan.FromMilliseconds(600)));
        Assert.False(await lease.TryAcquireAsync("silo-b", TimeSpan.FromMilliseconds(600)));

        // silo-a stops renewing (its silo died): the lease passes to the next asker once it runs out.
        await Task.Delay(800);
        Assert.True(await lease.TryAcquireAsync("silo-b", TimeSpan.FromMilliseconds(600)));
        Assert.False(await lease.TryAcquireAsync("silo-a", TimeSpan.FromMilliseconds(600)));
    }
}
