using Confluent.Kafka;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

/// <summary>The test helper itself: a count assertion after ReadAll must be able to fail.</summary>
[Collection(KafkaCollection.Name)]
public class KafkaPeerTests(KafkaPeer kafka)
{
    [Fact]
    public async Task ReadAll_ReadsPastTheExpectedCount_SoADuplicateIsSeen()
    {
        var topic = KafkaPeer.NewTopic("peer");
        using (var producer = kafka.CreateProducer())
        {
            await producer.ProduceAsync(topic, new Message<string?, string> { Key = "k", Value = "dead letter" });
            await producer.ProduceAsync(topic, new Message<string?, string> { Key = "k", Value = "dead letter" });
        }

        var read = kafka.ReadAll(topic, 1, TimeSpan.FromSeconds(30));

        Assert.Equal(2, read.Count);
    }
}
