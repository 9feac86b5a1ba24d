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
        var id = DefaultKafkaDataAdapter.Instance.GetStreamId(Topic, Record(key, value));

        Assert.Equal(StreamId.Create("ns", expected), id);
    }

    [Fact]
    public void WithoutAStreamNamespace_TheTopicNameIsTheNamespace()
    {
        var topic = new KafkaTopicOptions { Name = "t", GroupId = "g" };

        Assert.Equal("t", DefaultKafkaDataAdapter.Instance.GetStreamId(topic, Record("k", "{}")).GetNamespace());
    }
}
