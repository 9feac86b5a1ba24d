using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;

namespace Orleans.CastIron.Kafka;

/// <summary>Produces payload messages a client sends to <c>castiron_text_payload</c> / <c>castiron_video_payload</c>, unkeyed as the seed's producers send them.</summary>
internal sealed class KafkaPayloadPublisher : IPayloadPublisher, IDisposable
{
    private readonly IProducer<Null, byte[]> _producer;
    private readonly CastIronKafkaOptions _options;

    public KafkaPayloadPublisher(IOptions<CastIronKafkaOptions> options)
    {
        _options = options.Value;
        _producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig(new Dictionary<string, string>(_options.ClientSettings))
        {
            BootstrapServers = _options.Broker,
            Acks = Acks.All,
            MessageMaxBytes = _options.MaxMessageBytes,
        }).Build();
    }

    public async Task<string> PublishAsync(PayloadKind kind, byte[] message, string? requestId, CancellationToken cancellationToken)
    {
        var topic = kind == PayloadKind.Video ? _options.VideoPayloadTopic : _options.TextPayloadTopic;
        var record = new Message<Null, byte[]> { Value = message };
        if (requestId is not null)
        {
            record.Headers = new Headers { { PayloadOutcomes.RequestIdHeader, System.Text.Encoding.UTF8.GetBytes(requestId) } };
        }

        var produced = await _producer.ProduceAsync(topic, record, cancellationToken).ConfigureAwait(false);
        return $"{produced.Topic}/{produced.Partition.Value}@{produced.Offset.Value}";
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
