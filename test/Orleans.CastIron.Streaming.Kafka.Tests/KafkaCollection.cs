namespace Orleans.CastIron.Streaming.Kafka.Tests;

[CollectionDefinition(Name)]
public sealed class KafkaCollection : ICollectionFixture<KafkaPeer>
{
    public const string Name = "kafka";
}
