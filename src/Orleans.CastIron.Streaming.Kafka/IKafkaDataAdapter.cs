using System.Text.Json;
using Orleans.Runtime;

namespace Orleans.CastIron.Streaming.Kafka;

/// <summary>
/// Maps external (non-Orleans) Kafka records to Orleans streams. Register one keyed by the provider name to replace
/// <see cref="DefaultKafkaDataAdapter"/>.
/// </summary>
public interface IKafkaDataAdapter
{
    /// <summary>The stream a record belongs to; records of one stream are delivered in order to one consumer.</summary>
    StreamId GetStreamId(KafkaTopicOptions topic, KafkaRecord record);
}

/// <summary>
/// Stream namespace = the topic's <see cref="KafkaTopicOptions.StreamNamespace"/>; stream key = the record key, else
/// the JSON field <see cref="KafkaTopicOptions.KeyField"/>, else — records that ask for no order — one of
/// <c>partition-&lt;n&gt;-&lt;i&gt;</c>, <c>i = offset mod unkeyedStreamsPerPartition</c>, so they are handled by
/// several consumers at once (<c>partition-&lt;n&gt;</c> when that is 1, keeping partition order).
/// </summary>
public sealed class DefaultKafkaDataAdapter : IKafkaDataAdapter
{
    private readonly int _unkeyedStreams;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Partition, int Index), string> _unkeyedKeys = new();

    /// <param name="unkeyedStreamsPerPartition">Streams the records of one partition without a key are spread over.</param>
    public DefaultKafkaDataAdapter(int unkeyedStreamsPerPartition = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(unkeyedStreamsPerPartition, 1);
        _unkeyedStreams = unkeyedStreamsPerPartition;
    }

    public StreamId GetStreamId(KafkaTopicOptions topic, KafkaRecord record)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(record);
        return StreamId.Create(topic.Namespace, StreamKey(topic, record));
    }

    private string StreamKey(KafkaTopicOptions topic, KafkaRecord record)
    {
        if (record.Key is { Length: > 0 } key)
        {
            return key;
        }

        if (topic.KeyField is { } field)
        {
            try
            {
                using var document = JsonDocument.Parse(record.Value);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty(field, out var value)
                    && value.ValueKind == JsonValueKind.String
                    && value.GetString() is { Length: > 0 } text)
                {
                    return text;
                }
            }
            catch (JsonException)
            {
                // Unreadable values are the consumer's to report; here they simply keep partition order.
            }
        }

        if (_unkeyedStreams == 1)
        {
            return _unkeyedKeys.GetOrAdd((record.Partition, 0), static k => $"partition-{k.Partition}");
        }

        // Cached: one string per stream rather than per record.
        return _unkeyedKeys.GetOrAdd((record.Partition, (int)(record.Offset % _unkeyedStreams)), static k => $"partition-{k.Partition}-{k.Index}");
    }
}
