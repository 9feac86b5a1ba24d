using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// Writes records that could not be handled to the topic's dead-letter topic, with the reason and the origin in
/// headers (<c>castiron-error</c>, <c>castiron-origin-topic</c>, <c>castiron-origin-partition</c>,
/// <c>castiron-origin-offset</c>), so a poison record never stalls its partition and is never silently lost.
/// </summary>
public sealed partial class KafkaDeadLetters(
    KafkaStreamOptions options,
    ILogger<KafkaDeadLetters> logger,
    Func<ProducerConfig, IProducer<byte[]?, byte[]>>? producerFactory = null) : IDisposable
{
    private readonly Lazy<IProducer<byte[]?, byte[]>> _producer = new(() =>
        (producerFactory ?? (config => new ProducerBuilder<byte[]?, byte[]>(config).Build()))(new ProducerConfig(new Dictionary<string, string>(options.ClientSettings))
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = false,
            // A failure has to surface while the agent waits (librdkafka's default is 5 minutes).
            MessageTimeoutMs = (int)Math.Min(int.MaxValue, options.DeadLetterTimeout.TotalMilliseconds),
            MessageMaxBytes = Math.Max(options.MaxMessageBytes + 64 * 1024, 1_000_000),
        }));

    /// <summary>
    /// Raised once the broker has a dead letter: the record, the dead-letter topic and the reason (for metrics; a
    /// handler must be quick and must not throw).
    /// </summary>
    public event Action<KafkaRecord, string, string>? DeadLettered;

    /// <summary>Dead-letters <paramref name="record"/> and waits until the broker has it.</summary>
    public async Task SendAsync(KafkaRecord record, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        var topic = options.Topics.FirstOrDefault(t => t.Name == record.Topic)?.DeadLetter ?? $"{record.Topic}-dlq";
        var headers = new Headers
        {
            { "castiron-error", Encoding.UTF8.GetBytes(reason.Length > 4000 ? reason[..4000] : reason) },
            { "castiron-origin-topic", Encoding.UTF8.GetBytes(record.Topic) },
            { "castiron-origin-partition", Encoding.UTF8.GetBytes(record.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
            { "castiron-origin-offset", Encoding.UTF8.GetBytes(record.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
        };
        await _producer.Value.ProduceAsync(topic, new Message<byte[]?, byte[]>
        {
            Key = record.Key is null ? null : Encoding.UTF8.GetBytes(record.Key),
            Value = record.Value,
            Headers = headers,
        }, cancellationToken).ConfigureAwait(false);
        LogDeadLettered(record.ToString(), topic, reason);
        DeadLettered?.Invoke(record, topic, reason);
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(TimeSpan.FromSeconds(5));
            _producer.Value.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Record {Record} dead-lettered to '{DeadLetterTopic}': {Reason}")]
    private partial void LogDeadLettered(string record, string deadLetterTopic, string reason);
}
