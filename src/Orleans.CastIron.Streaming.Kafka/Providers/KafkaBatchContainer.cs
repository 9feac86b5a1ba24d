using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>One Kafka record on its way to a consumer grain (sent in a grain call, hence serializable).</summary>
[GenerateSerializer, Alias("castiron.KafkaBatchContainer")]
public sealed class KafkaBatchContainer(StreamId streamId, KafkaRecord record) : IBatchContainer
{
    [Id(0)] public StreamId StreamId { get; } = streamId;

    [Id(1)] public KafkaRecord Record { get; } = record;

    [Id(2)] public EventSequenceTokenV2 Token { get; } = new(record.Offset);

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>() =>
        Record is T item ? [Tuple.Create(item, (StreamSequenceToken)Token.CreateSequenceTokenForEvent(0))] : [];

    public bool ImportRequestContext() => false;

    public override string ToString() => $"[KafkaBatchContainer {StreamId} {Record}]";
}
