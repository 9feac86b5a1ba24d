using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

/// <summary>
/// The receiver on its own: against the Kafka peer where offsets and commits matter, with a substituted consumer or
/// dead-letter producer and a fake clock where the point is our own bookkeeping.
/// </summary>
[Collection(KafkaCollection.Name)]
public class ReceiverTests(KafkaPeer kafka)
{
    /// <summary>One claim at a time, as the ownership grain grants it (the grain itself runs in the cluster tests).</summary>
    private sealed class SingleOwnerFence : IQueueFence
    {
        private Guid _owner;
        private long _epoch;

        public Task<long> TryAcquireAsync(Guid reader)
        {
            lock (this)
            {
                if (_owner != Guid.Empty && _owner != reader)
                {
                    return Task.FromResult(0L);
                }

                _owner = reader;
                return Task.FromResult(++_epoch);
            }
        }

        public Task<bool> RenewAsync(Guid reader, long epoch)
        {
            lock (this)
            {
                return Task.FromResult(_owner == reader && _epoch == epoch);
            }
        }

        public Task ReleaseAsync(Guid reader, long epoch)
        {
            lock (this)
            {
                if (_owner == reader)
                {
                    _owner = Guid.Empty;
                }
            }

            return Task.CompletedTask;
        }
    }

    private KafkaStreamOptions Options(string topic, Action<KafkaStreamOptions>? configure = null)
    {
        var options = new KafkaStreamOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            Topics = [new KafkaTopicOptions { Name = topic, GroupId = "group-" + topic }],
            QueuesPerTopic = 4,
            // Commits only when a test says so (shutdown), unless it asks for more.
            CommitInterval = TimeSpan.FromHours(1),
            OwnershipLease = TimeSpan.FromHours(2),
        };
        configure?.Invoke(options);
        return options;
    }

    private static KafkaQueueAdapterReceiver Receiver(
        KafkaStreamOptions options,
        KafkaTopology topology,
        IQueueFence fence,
        KafkaDeadLetters? deadLetters = null,
        TimeProvider? time = null,
        Func<ConsumerConfig, IConsumer<byte[]?, byte[]>>? consumers = null) =>
        new("kafka", options, options.Topics[0], 0, new KafkaStreamControl("kafka"), topology, fence,
            deadLetters ?? new KafkaDeadLetters(options, NullLogger<KafkaDeadLetters>.Instance), new DefaultKafkaDataAdapter(),
            consumers, time ?? TimeProvider.System, NullLogger.Instance);

    /// <summary>A new topic with <paramref name="records"/> in partition 0 (the queue index 0 of 4 reads it alone).</summary>
    private async Task<string> TopicWithRecordsAsync(string prefix, int records)
    {
        // The mock cluster creates topics on first use, with 4 partitions (it has no CreateTopics).
        var topic = KafkaPeer.NewTopic(prefix);
        using var producer = kafka.CreateProducer();
        for (var i = 0; i < records; i++)
        {
            producer.Produce(new TopicPartition(topic, 0), new Message<string?, string> { Key = $"k{i}", Value = $"{i}" });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        await Task.CompletedTask;
        return topic;
    }

    private static async Task<List<KafkaBatchContainer>> ReadAsync(KafkaQueueAdapterReceiver receiver, int count, int seconds = 30)
    {
        var read = new List<KafkaBatchContainer>();
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (read.Count < count && DateTime.UtcNow < deadline)
        {
            read.AddRange((await receiver.GetQueueMessagesAsync(count - read.Count)).Cast<KafkaBatchContainer>());
            await Task.Delay(20);
        }

        return read;
    }

    [Fact]
    public async Task ANewReader_WaitsUntilTheOldOneCommittedAndLetGo_ThenStartsAfterWhatWasDelivered()
    {
        var topic = await TopicWithRecordsAsync("handover", records: 100);
        var options = Options(topic);
        using var topology = new KafkaTopology(options, NullLogger<KafkaTopology>.Instance);
        await topology.StartAsync();
        var fence = new SingleOwnerFence();
        var old = Receiver(options, topology, fence);
        await old.Initialize(TimeSpan.FromSeconds(5));
        var read = await ReadAsync(old, 100);
        Assert.Equal(100, read.Count);
        await old.MessagesDeliveredAsync([.. read.Take(60)]);

        // Orleans' balancer has started the queue's new reader before the old one stopped.
        var next = Receiver(options, topology, fence);
        await next.Initialize(TimeSpan.FromSeconds(5));
        Assert.Empty(await ReadAsync(next, 1, seconds: 2));
        Assert.Equal("waiting for the previous reader", next.Status().State);

        await old.Shutdown(TimeSpan.FromSeconds(5));
        var after = await ReadAsync(next, 40);
        await next.Shutdown(TimeSpan.FromSeconds(5));

        // It starts exactly after the delivered prefix the old reader committed on its way out.
        Assert.Equal(Enumerable.Range(60, 40).Select(i => (long)i), after.Select(c => c.Record.Offset));
    }

    [Fact]
    public async Task ARecordThatCannotBeDeadLettered_HoldsItsPartition_IsRetriedWithBackoff_AndReleasesItWhenDeadLettered()
    {
        var topic = await TopicWithRecordsAsync("held", records: 3);
        var options = Options(topic);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var producer = Substitute.For<IProducer<byte[]?, byte[]>>();
        var attempts = 0;
        producer.ProduceAsync(Arg.Any<string>(), Arg.Any<Message<byte[]?, byte[]>>(), Arg.Any<CancellationToken>())
            .Returns(_ => ++attempts <= 2
                ? throw new ProduceException<byte[]?, byte[]>(new Error(Confluent.Kafka.ErrorCode.Local_MsgTimedOut), new DeliveryResult<byte[]?, byte[]>())
                : Task.FromResult(new DeliveryResult<byte[]?, byte[]>()));
        using var deadLetters = new KafkaDeadLetters(options, NullLogger<KafkaDeadLetters>.Instance, _ => producer);
        using var topology = new KafkaTopology(options, NullLogger<KafkaTopology>.Instance);
        await topology.StartAsync();
        var receiver = Receiver(options, topology, new SingleOwnerFence(), deadLetters, time);
        await receiver.Initialize(TimeSpan.FromSeconds(5));
        var read = await ReadAsync(receiver, 3);

        // The middle record's delivery failed for good, and so does its dead letter; the cache reports the others.
        await receiver.DeadLetterAsync(read[1].SequenceToken, "delivery failed");
        await receiver.MessagesDeliveredAsync([read[0], read[2]]);
        await receiver.GetQueueMessagesAsync(10);

        var partition = Assert.Single(receiver.Status().Partitions);
        Assert.Equal("holding", receiver.Status().State);
        Assert.Equal(1, partition.DeliveredUpTo);
        Assert.Equal(1, partition.Held?.Offset);
        Assert.Equal("delivery failed", partition.Held?.Reason);

        // Retried after 1 s (fails), then after 2 s more (succeeds): the partition goes on past it.
        time.Advance(TimeSpan.FromSeconds(1));
        await receiver.GetQueueMessagesAsync(10);
        await WaitForAsync(() => attempts == 2);
        await WaitForAsync(() => receiver.Status().Partitions[0].Held?.Attempts == 2);
        Assert.Equal(1, receiver.Status().Partitions[0].DeliveredUpTo);
        time.Advance(TimeSpan.FromSeconds(2));
        await receiver.GetQueueMessagesAsync(10);
        await WaitForAsync(() => attempts == 3);
        await receiver.GetQueueMessagesAsync(10);
        Assert.Null(receiver.Status().Partitions[0].Held);
        Assert.Equal(3, receiver.Status().Partitions[0].DeliveredUpTo);

        await receiver.Shutdown(TimeSpan.FromSeconds(5));
        Assert.Equal(3, kafka.CommittedTotal(topic, "group-" + topic, 4));
    }

    [Fact]
    public async Task WhileAPartitionHolds_ShutdownCommitsOnlyUpToTheHeldRecord()
    {
        var topic = await TopicWithRecordsAsync("held-commit", records: 5);
        var options = Options(topic);
        var producer = Substitute.For<IProducer<byte[]?, byte[]>>();
        producer.ProduceAsync(Arg.Any<string>(), Arg.Any<Message<byte[]?, byte[]>>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new ProduceException<byte[]?, byte[]>(new Error(Confluent.Kafka.ErrorCode.Local_MsgTimedOut), new DeliveryResult<byte[]?, byte[]>()));
        using var deadLetters = new KafkaDeadLetters(options, NullLogger<KafkaDeadLetters>.Instance, _ => producer);
        using var topology = new KafkaTopology(options, NullLogger<KafkaTopology>.Instance);
        await topology.StartAsync();
        var receiver = Receiver(options, topology, new SingleOwnerFence(), deadLetters);
        await receiver.Initialize(TimeSpan.FromSeconds(5));
        var read = await ReadAsync(receiver, 5);

        await receiver.DeadLetterAsync(read[2].SequenceToken, "delivery failed");
        await receiver.MessagesDeliveredAsync([read[0], read[1], read[3], read[4]]);
        await receiver.Shutdown(TimeSpan.FromSeconds(5));

        // The next reader starts at the record that was neither handled nor dead-lettered.
        Assert.Equal(2, kafka.CommittedTotal(topic, "group-" + topic, 4));
    }

    [Fact]
    public async Task Reading_StopsAtTheBufferBound_AndAtTheCachesCount_UntilRecordsAreDelivered()
    {
        var options = Options("bounded", o => o.BufferBytes = 1024 * 1024);
        var consumer = Substitute.For<IConsumer<byte[]?, byte[]>>();
        long offset = 0;
        // An endless partition of 300 KB records.
        consumer.Consume(Arg.Any<TimeSpan>()).Returns(_ => new ConsumeResult<byte[]?, byte[]>
        {
            TopicPartitionOffset = new TopicPartitionOffset("bounded", 0, offset++),
            Message = new Message<byte[]?, byte[]> { Value = new byte[300 * 1024], Timestamp = new Timestamp(DateTime.UtcNow) },
        });
        consumer.GetWatermarkOffsets(Arg.Any<TopicPartition>()).Returns(new WatermarkOffsets(0, 1000));
        var admin = Substitute.For<IAdminClient>();
        admin.GetMetadata(Arg.Any<TimeSpan>()).Returns(new Confluent.Kafka.Metadata([], [new TopicMetadata("bounded", [new PartitionMetadata(0, 1, [1], [1], Confluent.Kafka.ErrorCode.NoError)], Confluent.Kafka.ErrorCode.NoError)], 1, "mock"));
        using var topology = new KafkaTopology(options, NullLogger<KafkaTopology>.Instance, adminFactory: () => admin);
        await topology.StartAsync();
        var receiver = Receiver(options, topology, new SingleOwnerFence(), consumers: _ => consumer);
        await receiver.Initialize(TimeSpan.FromSeconds(5));

        var first = await ReadAsync(receiver, 100, seconds: 1);
        // 4 × 300 KB passes 1 MiB: nothing more is read, however many records librdkafka has.
        Assert.Equal(4, first.Count);
        Assert.Empty(await receiver.GetQueueMessagesAsync(100));

        await receiver.MessagesDeliveredAsync([first[0], first[1]]);
        Assert.Equal(2, (await receiver.GetQueueMessagesAsync(100)).Count);
        await receiver.MessagesDeliveredAsync([.. first.Skip(2)]);
        // The cache's count is a hard limit too.
        Assert.Single(await receiver.GetQueueMessagesAsync(1));
        consumer.Received().IncrementalAssign(Arg.Is<IEnumerable<TopicPartitionOffset>>(a => a.Single().Partition.Value == 0 && a.Single().Offset == Offset.Stored));
    }

    [Fact]
    public async Task PartitionsAddedLater_JoinTheirQueue()
    {
        var options = Options("growing", o => { o.QueuesPerTopic = 2; o.TopologyRefreshInterval = TimeSpan.FromMinutes(1); });
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var partitions = 2;
        var admin = Substitute.For<IAdminClient>();
        admin.GetMetadata(Arg.Any<TimeSpan>()).Returns(_ => new Confluent.Kafka.Metadata([], [new TopicMetadata("growing", [.. Enumerable.Range(0, partitions).Select(p => new PartitionMetadata(p, 1, [1], [1], Confluent.Kafka.ErrorCode.NoError))], Confluent.Kafka.ErrorCode.NoError)], 1, "mock"));
        var consumer = Substitute.For<IConsumer<byte[]?, byte[]>>();
        consumer.GetWatermarkOffsets(Arg.Any<TopicPartition>()).Returns(new WatermarkOffsets(0, 0));
        using var topology = new KafkaTopology(options, NullLogger<KafkaTopology>.Instance, time, () => admin);
        await topology.StartAsync();
        var receiver = new KafkaQueueAdapterReceiver("kafka", options, options.Topics[0], 1, new KafkaStreamControl("kafka"), topology, new SingleOwnerFence(),
            new KafkaDeadLetters(options, NullLogger<KafkaDeadLetters>.Instance), new DefaultKafkaDataAdapter(), _ => consumer, TimeProvider.System, NullLogger.Instance);
        await receiver.Initialize(TimeSpan.FromSeconds(5));
        await ReadAsync(receiver, 1, seconds: 1);
        Assert.Equal([1], receiver.Status().Partitions.Select(p => p.Partition));

        partitions = 6;
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitForAsync(() => topology.PartitionCount("growing") == 6);
        await receiver.GetQueueMessagesAsync(10);

        // Queue 1 of 2 reads the odd partitions, the new ones included.
        Assert.Equal([1, 3, 5], receiver.Status().Partitions.Select(p => p.Partition));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
