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

    public async Task<string> PublishAsync(PayloadKind kind, byte[] message, CancellationToken cancellationToken)
    {
        var topic = kind == PayloadKind.Video ? _options.VideoPayloadTopic : _options.TextPayloadTopic;
        var produced = await _producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = message }, cancellationToken).ConfigureAwait(false);
        return $"{produced.Topic}/{produced.Partition.Value}@{produced.Offset.Value}";
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
