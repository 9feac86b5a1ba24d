using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Jobs;
using Orleans.CastIron.Storage;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// Publishes job events to <c>pizza-tracker</c>, keyed by <c>job_id</c> (one partition per job keeps its events in
/// order; the seed sent no key: B-31), in the seed's JSON. Produces asynchronously in batches (librdkafka lingers a
/// few milliseconds) instead of a flush per message, and flushes at shutdown.
/// </summary>
public sealed partial class KafkaJobEventSink : IJobEventSink, IDisposable
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly string _topic;
    private readonly ILogger<KafkaJobEventSink> _logger;

    public KafkaJobEventSink(IOptions<CastIronKafkaOptions> options, ILogger<KafkaJobEventSink> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _topic = options.Value.PizzaTrackerTopic;
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig(new Dictionary<string, string>(options.Value.ClientSettings))
        {
            BootstrapServers = options.Value.Broker,
            LingerMs = 5,
            Acks = Acks.All,
        }).Build();
    }

    public async Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        var value = JobEventJson.SerializeToUtf8(jobEvent);
        try
        {
            await _producer.ProduceAsync(_topic, new Message<string, byte[]> { Key = jobEvent.JobId, Value = value }, cancellationToken).ConfigureAwait(false);
        }
        catch (ProduceException<string, byte[]> ex)
        {
            LogPublishFailed(ex, jobEvent.JobId, Encoding.UTF8.GetString(value));
            throw;
        }
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    [LoggerMessage(1, LogLevel.Error, "Publishing a job event for {JobId} failed: {Json}")]
    private partial void LogPublishFailed(Exception exception, string jobId, string json);
}
