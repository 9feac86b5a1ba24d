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
/// the JSON field <see cref="KafkaTopicOptions.KeyField"/>, else <c>partition-&lt;n&gt;</c> (keeping partition order).
/// </summary>
public sealed class DefaultKafkaDataAdapter : IKafkaDataAdapter
{
    /// <summary>The shared instance.</summary>
    public static readonly DefaultKafkaDataAdapter Instance = new();

    public StreamId GetStreamId(KafkaTopicOptions topic, KafkaRecord record)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(record);
        return StreamId.Create(topic.Namespace, StreamKey(topic, record));
    }

    private static string StreamKey(KafkaTopicOptions topic, KafkaRecord record)
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

        return $"partition-{record.Partition}";
    }
}
