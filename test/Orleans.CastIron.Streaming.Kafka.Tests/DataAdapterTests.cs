using System.Text;
using Orleans.Runtime;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

public class DataAdapterTests
{
    private static readonly KafkaTopicOptions Topic = new() { Name = "castiron_etl_source_file", GroupId = "g", StreamNamespace = "ns", KeyField = "Key" };

    private static KafkaRecord Record(string? key, string value, int partition = 2) =>
        new() { Topic = Topic.Name, Partition = partition, Offset = 7, Key = key, Value = Encoding.UTF8.GetBytes(value) };

    [Theory]
    [InlineData("etl/01_inbox/a.csv", "{}", "etl/01_inbox/a.csv")]
    [InlineData(null, "{\"Key\":\"etl/01_inbox/b.csv\"}", "etl/01_inbox/b.csv")]
    [InlineData(null, "{\"Key\":5}", "partition-2")]
    [InlineData(null, "not json", "partition-2")]
    [InlineData("", "{}", "partition-2")]
    public void DefaultAdapter_UsesKeyThenFieldThenPartition(string? key, string value, string expected)
    {
        var id = new DefaultKafkaDataAdapter().GetStreamId(Topic, Record(key, value));

        Assert.Equal(StreamId.Create("ns", expected), id);
    }

    [Fact]
    public void WithoutAStreamNamespace_TheTopicNameIsTheNamespace()
    {
        var topic = new KafkaTopicOptions { Name = "t", GroupId = "g" };

        Assert.Equal("t", new DefaultKafkaDataAdapter().GetStreamId(topic, Record("k", "{}")).GetNamespace());
    }

    [Fact]
    public void RecordsWithoutAKey_AreSpreadByOffset_KeyedOnesAreNot()
    {
        var adapter = new DefaultKafkaDataAdapter(unkeyedStreamsPerPartition: 3);
        KafkaRecord At(long offset, string? key) => new() { Topic = "t", Partition = 5, Offset = offset, Key = key, Value = "{}"u8.ToArray() };
        var topic = new KafkaTopicOptions { Name = "t", GroupId = "g" };

        Assert.Equal(["partition-5-0", "partition-5-1", "partition-5-2", "partition-5-0"], Enumerable.Range(0, 4).Select(o => adapter.GetStreamId(topic, At(o, null)).GetKeyAsString()));
        Assert.Single(Enumerable.Range(0, 4).Select(o => adapter.GetStreamId(topic, At(o, "k")).GetKeyAsString()).Distinct());
    }
}
