using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// Where Cast Iron's Kafka consumers send the records they give up on: by default the stream provider's dead-letter
/// topics (<c>&lt;topic&gt;-dlq</c>, reason in the <c>castiron-error</c> header). A silo may register its own.
/// </summary>
public interface IKafkaDeadLetterSink
{
    /// <summary>Stores <paramref name="record"/> with <paramref name="reason"/>; throws when it could not.</summary>
    Task SendAsync(KafkaRecord record, string reason, CancellationToken cancellationToken = default);
}

/// <summary>The stream provider's dead-letter topics.</summary>
internal sealed class KafkaDeadLetterTopics(KafkaDeadLetters deadLetters) : IKafkaDeadLetterSink
{
    public Task SendAsync(KafkaRecord record, string reason, CancellationToken cancellationToken = default) =>
        deadLetters.SendAsync(record, reason, cancellationToken);
}
