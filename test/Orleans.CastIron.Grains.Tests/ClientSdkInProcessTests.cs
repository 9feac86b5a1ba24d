using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Client;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>
/// The client SDK against an in-process cluster of two silos, over each silo's own cluster client (co-hosting; the
/// in-process cluster has no sockets for an outside client): a file submitted through one is watched from both, and
/// both see the same events, published wherever the job ran. The SDK's own connection is tested against the silo
/// process (Silo.Tests).
/// </summary>
public sealed class ClientSdkInProcessTests
{
    [Fact]
    public async Task AFileSubmittedThroughOneGateway_IsWatchedThroughBoth_WithTheSameEvents()
    {
        await using var host = await WorkflowHost.StartAsync(silos: 2);
        var folder = Configs.Folder();
        await host.DropAsync($"{folder}/cfg.toml", Configs.Shell("""echo "TASK counting" > "$PIZZA_TRACKER"; for i in 1 2 3 4 5; do echo "PROGRESS $i/5" > "$PIZZA_TRACKER"; sleep 0.1; done"""));
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "the config registered");
        var one = CastIronClients.Create(host.Cluster.GetSiloServiceProvider(host.Cluster.Silos[0].SiloAddress).GetRequiredService<IClusterClient>());
        var two = CastIronClients.Create(host.Cluster.GetSiloServiceProvider(host.Cluster.Silos[1].SiloAddress).GetRequiredService<IClusterClient>());

        var submitted = await one.SubmitAsync(new MemoryStream("a,b\n"u8.ToArray()), "t.csv", $"{folder}/cfg.toml");
        var watched = await Task.WhenAll(
            one.WatchAsync(submitted.FileId).ToListAsync().AsTask(),
            two.WatchAsync(submitted.FileId).ToListAsync().AsTask());

        Assert.Equal(watched[0], watched[1]);
        var events = watched[0].Select(e => e.Event).ToList();
        Assert.Equal(JobEventType.JobCreated, events[0].Type);
        Assert.Equal("counting", events[1].Task);
        Assert.Equal([0.2, 0.4, 0.6, 0.8, 1.0], events.Where(e => e.Progress is not null).Select(e => e.Progress!.Value));
        Assert.Equal("success", events[^1].Status);
        Assert.Equal(FileStatus.Complete, (await two.GetFileAsync(submitted.FileId))!.Status);
        Assert.True(host.Exists($"{folder}/03_archive/{submitted.FileId}-t.csv"));
    }
}
