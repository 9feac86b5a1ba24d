using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.CastIron.Tests;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

[Collection(KafkaCollection.Name)]
public class KafkaStreamProviderTests(KafkaPeer kafka)
{
    private const string Provider = "kafka";

    private async Task<InProcessTestCluster> StartAsync(string topic, string group, Action<KafkaStreamOptions>? configure = null, short silos = 1)
    {
        var builder = new InProcessTestClusterBuilder(initialSilosCount: silos).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) => silo.AddKafkaStreams(Provider, c =>
        {
            c.ConfigureKafka(ob => ob.Configure(o =>
            {
                o.BootstrapServers = kafka.BootstrapServers;
                o.Topics.Add(new KafkaTopicOptions { Name = topic, GroupId = group, StreamNamespace = RecordingGrain.Namespace });
                o.TopologyRefreshInterval = TimeSpan.FromMilliseconds(500);
                configure?.Invoke(o);
            }));
            c.ConfigurePullingAgent(ob => ob.Configure(o => o.MaxEventDeliveryTime = TimeSpan.FromSeconds(2)));
        }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> describe, int seconds = 60)
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

    private static List<KafkaRecord> ReceivedOn(string topic) =>
        [.. RecordingGrain.Received.Where(r => r.Record.Topic == topic).Select(r => r.Record)];

    private async Task ProduceAsync(string topic, IEnumerable<(string? Key, string Value)> records)
    {
        using var producer = kafka.CreateProducer();
        foreach (var (key, value) in records)
        {
            producer.Produce(topic, new Message<string?, string> { Key = key, Value = value });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task EveryRecordIsDelivered_KeyedStreamsKeepTheirOrder_AndTheDeliveredPrefixIsCommitted()
    {
        var topic = KafkaPeer.NewTopic("provider");
        var group = "group-" + topic;
        await ProduceAsync(topic, [("warm-up", "0")]);
        await using var cluster = await StartAsync(topic, group);

        var records = Enumerable.Range(1, 300).Select(i => ((string?)$"key-{i % 7}", $"{i}")).ToList();
        await ProduceAsync(topic, records);

        await WaitUntilAsync(() => ReceivedOn(topic).Select(r => (r.Partition, r.Offset)).Distinct().Count() == 301, () => $"301 records, got {ReceivedOn(topic).Count}");
        var received = ReceivedOn(topic);
        foreach (var key in Enumerable.Range(0, 7).Select(k => $"key-{k}"))
        {
            var values = RecordingGrain.Received.Where(r => r.Record.Topic == topic && r.StreamKey == key).Select(r => int.Parse(Encoding.UTF8.GetString(r.Record.Value), System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
            Assert.Equal(values.Order(), values);
            Assert.Equal(records.Count(r => r.Item1 == key), values.Count);
        }

        // Stored offsets are committed in the background (and at shutdown): the group ends at the end of the topic.
        await WaitUntilAsync(() => kafka.CommittedTotal(topic, group, 4) == 301, () => $"committed total {kafka.CommittedTotal(topic, group, 4)} of 301", 30);
        Assert.Equal(301, received.Select(r => (r.Partition, r.Offset)).Distinct().Count());
    }

    [Fact]
    public async Task RecordsWithoutAKey_AreSpreadOverSeveralConsumersOfTheirPartition_EachDeliveredOnce()
    {
        var topic = KafkaPeer.NewTopic("nokey");
        await ProduceAsync(topic, Enumerable.Range(0, 40).Select(i => ((string?)null, $"v{i}")));
        await using var cluster = await StartAsync(topic, "group-" + topic, o => o.UnkeyedStreamsPerPartition = 4);

        await WaitUntilAsync(() => ReceivedOn(topic).Count >= 40, () => "40 records");

        var byStream = RecordingGrain.Received.Where(r => r.Record.Topic == topic).GroupBy(r => r.StreamKey).ToList();
        // Four consumers share each partition's records (by offset): none waits for another's.
        Assert.All(byStream, g => Assert.All(g, r => Assert.Equal($"partition-{r.Record.Partition}-{r.Record.Offset % 4}", g.Key)));
        Assert.All(byStream.GroupBy(g => g.First().Record.Partition), streamsOfPartition => Assert.Equal(
            Math.Min(4, ReceivedOn(topic).Count(r => r.Partition == streamsOfPartition.Key)), streamsOfPartition.Count()));
        Assert.Equal(40, ReceivedOn(topic).Select(r => (r.Partition, r.Offset)).Distinct().Count());
    }

    [Fact]
    public async Task ATopicCreatedAfterTheSiloStarted_IsWaitedFor_AndRead()
    {
        var topic = KafkaPeer.NewTopic("later");
        await using var cluster = await StartAsync(topic, "group-" + topic);
        var control = cluster.Client.GetGrain<IManagementGrain>(0);
        Assert.All(await control.QueuesAsync(Provider), q => Assert.Empty(q.Partitions));

        await ProduceAsync(topic, Enumerable.Range(0, 20).Select(i => ((string?)$"k{i}", $"{i}")));

        await WaitUntilAsync(() => ReceivedOn(topic).Select(r => (r.Partition, r.Offset)).Distinct().Count() == 20, () => $"20 records, got {ReceivedOn(topic).Count}");
        Assert.Equal(4, (await control.QueuesAsync(Provider)).SelectMany(q => q.Partitions).Count());
    }

    [Fact]
    public async Task APoisonRecord_IsDeadLettered_WithTheReason_AndItsPartitionGoesOn()
    {
        var topic = KafkaPeer.NewTopic("poison");
        await ProduceAsync(topic, [("k", "before"), ("k", "poison pill"), ("k", "after")]);
        await using var cluster = await StartAsync(topic, "group-" + topic);

        await WaitUntilAsync(() => ReceivedOn(topic).Any(r => Encoding.UTF8.GetString(r.Value) == "after"), () => "the record after the poison one");
        var dead = kafka.ReadAll($"{topic}-dlq", 1, TimeSpan.FromSeconds(30));

        var letter = Assert.Single(dead);
        Assert.Equal("poison pill", letter.Message.Value);
        Assert.Equal("k", letter.Message.Key);
        Assert.Contains("delivery to the consumer", Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("castiron-error")), StringComparison.Ordinal);
        Assert.Equal(topic, Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("castiron-origin-topic")));
        Assert.Equal(["before", "after"], ReceivedOn(topic).Select(r => Encoding.UTF8.GetString(r.Value)).Distinct());
    }

    [Fact]
    public async Task ARestartedSilo_ResumesFromTheCommittedPositions_LosingNothing()
    {
        var topic = KafkaPeer.NewTopic("restart");
        var group = "group-" + topic;
        await ProduceAsync(topic, Enumerable.Range(0, 100).Select(i => ((string?)$"k{i % 5}", $"first-{i}")));
        await using (var first = await StartAsync(topic, group))
        {
            await WaitUntilAsync(() => ReceivedOn(topic).Count >= 100, () => "the first 100");
            await first.StopAllSilosAsync();
        }

        var before = ReceivedOn(topic).Count;
        await ProduceAsync(topic, Enumerable.Range(0, 100).Select(i => ((string?)$"k{i % 5}", $"second-{i}")));
        await using var second = await StartAsync(topic, group);

        await WaitUntilAsync(() => ReceivedOn(topic).Select(r => r.Offset + ((long)r.Partition << 40)).Distinct().Count() == 200, () => "all 200 distinct records");
        var redelivered = ReceivedOn(topic).Skip(before).Count(r => Encoding.UTF8.GetString(r.Value).StartsWith("first-", StringComparison.Ordinal));
        // Shutdown committed the delivered prefix, so the new silo starts after it: nothing of the first batch again.
        Assert.Equal(0, redelivered);
    }

    [Fact]
    public void Options_AreValidatedWithTheSettingNamed()
    {
        var problems = new KafkaStreamOptions { Topics = [new KafkaTopicOptions { Name = "t" }] }.Validate("kafka").ToList();

        Assert.Contains("Kafka stream provider 'kafka': BootstrapServers is required", problems);
        Assert.Contains("Kafka stream provider 'kafka': topic 't' has no GroupId", problems);
        Assert.Empty(new KafkaStreamOptions { BootstrapServers = "b:9092", Topics = [new KafkaTopicOptions { Name = "t", GroupId = "g" }] }.Validate("kafka"));
    }
}
