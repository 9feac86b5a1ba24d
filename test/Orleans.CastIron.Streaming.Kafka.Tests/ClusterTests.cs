using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Orleans.CastIron.Tests;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

/// <summary>The provider on more than one silo: queues moving between silos, and control of every silo at once.</summary>
[Collection(KafkaCollection.Name)]
public class ClusterTests(KafkaPeer kafka, ITestOutputHelper output)
{
    private const string Provider = "kafka";

    private async Task<InProcessTestCluster> StartAsync(string topic, short silos, string? claimStorage = null)
    {
        var builder = new InProcessTestClusterBuilder(initialSilosCount: silos).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage("claims");
            silo.AddKafkaStreams(Provider, c =>
            {
                c.ConfigureKafka(ob => ob.Configure(o =>
                {
                    o.BootstrapServers = kafka.BootstrapServers;
                    o.Topics.Add(new KafkaTopicOptions { Name = topic, GroupId = "group-" + topic, StreamNamespace = RecordingGrain.Namespace });
                    o.CommitInterval = TimeSpan.FromMilliseconds(200);
                    o.ClaimStorage = claimStorage;
                }));
            });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static List<(string StreamKey, KafkaRecord Record)> ReceivedOn(string topic) =>
        [.. RecordingGrain.Received.Where(r => r.Record.Topic == topic)];

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> describe, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {describe()}");
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task QueuesMovingBetweenSilosUnderLoad_LoseNothing_AndKeepEveryKeysOrder()
    {
        const int Keys = 20;
        const int PerKey = 150;
        var topic = KafkaPeer.NewTopic("handover");
        using (var warmUp = kafka.CreateProducer())
        {
            await warmUp.ProduceAsync(topic, new Message<string?, string> { Key = "k0", Value = "-1" });
        }

        await using var cluster = await StartAsync(topic, silos: 1);

        // Records arrive steadily while a second silo joins (queues move to it) and leaves again (they move back).
        var producing = Task.Run(async () =>
        {
            using var producer = kafka.CreateProducer();
            for (var i = 0; i < PerKey; i++)
            {
                for (var k = 0; k < Keys; k++)
                {
                    producer.Produce(topic, new Message<string?, string> { Key = $"k{k}", Value = i.ToString(CultureInfo.InvariantCulture) });
                }

                await Task.Delay(40);
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        });
        await Task.Delay(1500);
        var second = await cluster.StartAdditionalSiloAsync();
        await cluster.WaitForLivenessToStabilizeAsync();
        var queues = await cluster.Client.GetGrain<IManagementGrain>(0).QueuesAsync(Provider);
        await Task.Delay(1500);
        await cluster.StopSiloAsync(second);
        await producing;

        await WaitUntilAsync(
            () => ReceivedOn(topic).Select(r => (r.Record.Partition, r.Record.Offset)).Distinct().Count() == Keys * PerKey + 1,
            () => $"{Keys * PerKey + 1} distinct records, got {ReceivedOn(topic).Select(r => (r.Record.Partition, r.Record.Offset)).Distinct().Count()}");
        var received = ReceivedOn(topic);
        var duplicates = received.Count - received.Select(r => (r.Record.Partition, r.Record.Offset)).Distinct().Count();
        // An order violation: a key's record handled for the first time after a later record of that key.
        var violations = 0;
        foreach (var key in received.GroupBy(r => r.StreamKey))
        {
            var seen = new HashSet<long>();
            var last = long.MinValue;
            foreach (var (_, record) in key)
            {
                if (!seen.Add(record.Offset))
                {
                    continue;
                }

                if (record.Offset < last)
                {
                    violations++;
                }

                last = record.Offset;
            }
        }

        output.WriteLine($"{received.Count} deliveries of {Keys * PerKey + 1} records; {duplicates} duplicates; {violations} order violations; queues read by {queues.Select(q => q.Silo).Distinct().Count()} silos while both ran");
        Assert.Equal(2, queues.Select(q => q.Silo).Distinct().Count());
        Assert.Equal(0, violations);
        // Duplicates come only from records delivered but not yet reported delivered when their queue moved.
        Assert.True(duplicates < Keys * PerKey / 4, $"{duplicates} duplicates");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AQueueClaimLostWithItsActivation_StillFencesTheLiveHolder_WhenClaimsAreStored(bool stored)
    {
        var topic = KafkaPeer.NewTopic("claims");
        await using var cluster = await StartAsync(topic, silos: 1, stored ? "claims" : null);
        var silo = cluster.Silos[0].SiloAddress;
        var lease = TimeSpan.FromSeconds(30);
        var claim = cluster.Client.GetGrain<IKafkaQueueOwnershipGrain>($"{Provider}/not-read-{topic}/0");
        Guid holder = Guid.NewGuid(), next = Guid.NewGuid();

        var held = await claim.TryAcquireAsync(holder, silo, lease);
        await LoseActivationAsync(claim);
        var taken = await claim.TryAcquireAsync(next, silo, lease);

        if (stored)
        {
            // The holder is alive and renewing: the next reader waits, as it would had nothing been lost.
            Assert.Equal(0, taken);
            Assert.True(await claim.RenewAsync(holder, held, silo, lease));
            await claim.ReleaseAsync(holder, held);
            await LoseActivationAsync(claim);
            Assert.True(await claim.TryAcquireAsync(next, silo, lease) > held, "after the holder let go, the next reader gets a newer epoch");
        }
        else
        {
            // In memory: granted at once, and the old holder learns it lost the queue at its next renewal.
            Assert.True(taken > held);
            Assert.False(await claim.RenewAsync(holder, held, silo, lease));
        }
    }

    [Fact]
    public async Task AStoredClaimOfASiloTheClusterDoesNotKnow_IsFreeAtOnce()
    {
        // As after a restart of the whole cluster: the stored holder's silo is of an earlier generation.
        var topic = KafkaPeer.NewTopic("claims");
        await using var cluster = await StartAsync(topic, silos: 1, "claims");
        var gone = SiloAddress.New(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1), 1);
        var claim = cluster.Client.GetGrain<IKafkaQueueOwnershipGrain>($"{Provider}/not-read-{topic}/0");

        var held = await claim.TryAcquireAsync(Guid.NewGuid(), gone, TimeSpan.FromSeconds(30));
        await LoseActivationAsync(claim);

        Assert.True(await claim.TryAcquireAsync(Guid.NewGuid(), cluster.Silos[0].SiloAddress, TimeSpan.FromSeconds(30)) > held, "the next reader waited out the lease of a silo that is gone");
    }

    [Fact]
    public async Task AClaimStorageThatIsNotRegistered_StopsTheSiloAtStart_NamingIt()
    {
        var topic = KafkaPeer.NewTopic("claims");

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await (await StartAsync(topic, silos: 1, "no-such-storage")).DisposeAsync());

        Assert.Contains("Kafka stream provider 'kafka': ClaimStorage 'no-such-storage' is not a registered grain storage provider", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task LoseActivationAsync(IKafkaQueueOwnershipGrain claim)
    {
        await claim.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task StoppingTheAgents_StopsEverySilo_AndStartingThemReadsWhatArrivedMeanwhile()
    {
        var topic = KafkaPeer.NewTopic("pause");
        using var producer = kafka.CreateProducer();
        await producer.ProduceAsync(topic, new Message<string?, string> { Key = "k", Value = "before" });
        await using var cluster = await StartAsync(topic, silos: 2);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        await WaitUntilAsync(() => ReceivedOn(topic).Count == 1, () => "the first record");
        Assert.Equal(2, (await management.QueuesAsync(Provider)).Select(q => q.Silo).Distinct().Count());

        await management.StopAgentsAsync(Provider);
        Assert.True(await management.AgentsStoppedAsync(Provider));
        Assert.Empty(await management.QueuesAsync(Provider));
        for (var i = 0; i < 20; i++)
        {
            producer.Produce(topic, new Message<string?, string> { Key = $"k{i}", Value = $"paused-{i}" });
        }

        producer.Flush(TimeSpan.FromSeconds(10));
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(2))
        {
            Assert.Single(ReceivedOn(topic));
            await Task.Delay(100);
        }

        await management.StartAgentsAsync(Provider);
        Assert.False(await management.AgentsStoppedAsync(Provider));
        await WaitUntilAsync(() => ReceivedOn(topic).Select(r => Encoding.UTF8.GetString(r.Record.Value)).Distinct().Count() == 21, () => "the 20 records sent while stopped");
    }
}
