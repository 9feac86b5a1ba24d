using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains.Services;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>
/// Job events as a watcher meets them: published on any silo, read on any other, resumed after a position without
/// gaps or repeats, followed live, bounded, and kept across a restart of the cluster.
/// </summary>
public sealed class JobEventsTests
{
    [Fact]
    public async Task EventsPublishedOnTwoSilos_ForManyJobs_AreReadInOrder_AndResumedAfterAPosition()
    {
        await using var host = await WorkflowHost.StartAsync(silos: 2);
        var sinks = host.Cluster.Silos.Select(s => host.Cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<GrainJobEventSink>()).ToList();

        // 16 jobs side by side, each published from both silos in turn, 20 progress events each.
        await Parallel.ForEachAsync(Enumerable.Range(0, 16), async (job, _) =>
        {
            for (var i = 1; i <= 20; i++)
            {
                await sinks[i % 2 == 0 ? 0 : 1].PublishAsync(JobEvent.ProgressUpdate($"job-{job}", i / 20.0));
                // One silo's events stay in order; across silos a job's publisher is one at a time, as a FileJob is.
                await sinks[i % 2 == 0 ? 0 : 1].FlushAsync();
            }
        });

        foreach (var job in Enumerable.Range(0, 16))
        {
            var feed = host.Grains.GetGrain<IJobEventsGrain>($"job-{job}");
            var all = await feed.ReadAsync(0, 1_000);
            Assert.Equal(Enumerable.Range(1, 20).Select(i => i / 20.0), all.Events.Select(e => e.Event.Progress!.Value));
            Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), all.Events.Select(e => e.Sequence));
            var rest = await feed.ReadAsync(8, 1_000);
            Assert.Equal(all.Events.Skip(8), rest.Events);
        }
    }

    [Fact]
    public async Task AWatcher_IsWokenByTheNextEvent_AndByTheEnd_AndReturnsAtOnceOnceEnded()
    {
        await using var host = await WorkflowHost.StartAsync();
        var feed = host.Grains.GetGrain<IJobEventsGrain>("watched");
        await feed.AppendAsync([JobEvent.Created("watched", "u-a.csv", "cfg.toml", "castiron")]);

        var waiting = feed.WaitAsync(1, 100, TimeSpan.FromSeconds(20));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await feed.AppendAsync([JobEvent.TaskUpdate("watched", "parsing")]);
        var page = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("parsing", Assert.Single(page.Events).Event.Task);
        Assert.False(page.Ended);

        waiting = feed.WaitAsync(2, 100, TimeSpan.FromSeconds(20));
        await feed.AppendAsync([JobEvent.StatusUpdate("watched", "success")]);
        page = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(page.Ended);
        Assert.Equal(3, page.Last);

        var started = DateTime.UtcNow;
        Assert.Empty((await feed.WaitAsync(3, 100, TimeSpan.FromSeconds(20))).Events);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "a watcher of an ended job waited");
    }

    [Fact]
    public async Task TheBound_DropsIntermediateProgress_AndKeepsTheCreatedTasksAndFinalStatus()
    {
        await using var host = await WorkflowHost.StartAsync();
        var feed = host.Grains.GetGrain<IJobEventsGrain>("chatty");
        await feed.AppendAsync([JobEvent.Created("chatty", "u-a.csv", "cfg.toml", "castiron"), JobEvent.TaskUpdate("chatty", "start")]);
        for (var batch = 0; batch < 15; batch++)
        {
            await feed.AppendAsync([.. Enumerable.Range(0, 100).Select(i => JobEvent.ProgressUpdate("chatty", (batch * 100 + i) / 1500.0))]);
        }

        await feed.AppendAsync([JobEvent.StatusUpdate("chatty", "success")]);
        var page = await feed.ReadAsync(0, 1_000);

        Assert.Equal(1_000, page.Events.Length);
        Assert.Equal(1_503, page.Last);
        Assert.Equal(503, page.Dropped);
        Assert.Equal(JobEventType.JobCreated, page.Events[0].Event.Type);
        Assert.Equal("start", page.Events[1].Event.Task);
        Assert.Equal("success", page.Events[^1].Event.Status);
        Assert.True(page.Ended);
    }

    [Fact]
    public async Task AFilesEvents_SurviveARestartOfTheCluster()
    {
        var root = WorkflowHost.NewRoot();
        try
        {
            string jobId;
            IReadOnlyList<JobEvent> before;
            await using (var host = await WorkflowHost.StartAsync(root))
            {
                var folder = Configs.Folder();
                await host.DropAsync($"{folder}/cfg.toml", Configs.Shell("""echo "PROGRESS 1/2" > "$PIZZA_TRACKER" """));
                await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "the config registered");
                await host.DropAsync($"{folder}/01_inbox/t.csv", "a\n");
                var record = await host.WaitForStatusAsync(folder, "t.csv", FileStatus.Complete);
                jobId = record.JobId!;
                before = await host.JobEvents.EventsAsync(jobId);
                Assert.Equal(3, before.Count);
            }

            await using (var restarted = await WorkflowHost.StartAsync(root))
            {
                var page = await restarted.Grains.GetGrain<IJobEventsGrain>(jobId).ReadAsync(0, 1_000);
                Assert.Equal(before, page.Events.Select(e => e.Event));
                Assert.True(page.Ended);
            }
        }
        finally
        {
            WorkflowHost.DeleteRoot(root);
        }
    }
}
