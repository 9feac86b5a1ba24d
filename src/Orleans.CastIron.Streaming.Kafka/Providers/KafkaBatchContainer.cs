using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// One Kafka record on its way to a consumer grain (sent in a grain call, hence serializable). Its token is the
/// receiver's read sequence, not the offset: a queue reads several partitions, and the cache needs one order.
/// </summary>
[GenerateSerializer, Alias("castiron.KafkaBatchContainer")]
public sealed class KafkaBatchContainer(StreamId streamId, KafkaRecord record, long sequence) : IBatchContainer
{
    [Id(0)] public StreamId StreamId { get; } = streamId;

    [Id(1)] public KafkaRecord Record { get; } = record;

    [Id(2)] public EventSequenceTokenV2 Token { get; } = new(sequence);

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>() =>
        Record is T item ? [Tuple.Create(item, (StreamSequenceToken)Token.CreateSequenceTokenForEvent(0))] : [];

    public bool ImportRequestContext() => false;

    public override string ToString() => $"[KafkaBatchContainer {StreamId} {Record}]";
}
