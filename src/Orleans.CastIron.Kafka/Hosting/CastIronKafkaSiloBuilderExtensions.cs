using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Jobs;
using Orleans.CastIron.Kafka;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Runtime;

namespace Orleans.Hosting;

/// <summary>Turns on Cast Iron's Kafka side when a broker is configured.</summary>
public static class CastIronKafkaSiloBuilderExtensions
{
    /// <summary>
    /// With a broker set (<c>CastIron:Kafka:Broker</c>, i.e. <c>KAFKA_BROKER</c>): streaming text and video payloads
    /// through the Kafka stream provider, and job events to <c>pizza-tracker</c> instead of the embedded feed. Call it
    /// before <c>AddCastIron</c>, whose embedded sink only stands in when none is registered. Without a broker it
    /// does nothing.
    /// </summary>
    /// <param name="configureStreams">Further settings of the stream provider (its buffer, queues, timings), applied last.</param>
    public static ISiloBuilder AddCastIronKafka(this ISiloBuilder builder, IConfiguration? configuration = null, Action<CastIronKafkaOptions>? configure = null, Action<KafkaStreamOptions>? configureStreams = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new CastIronKafkaOptions();
        configuration?.Bind(options);
        configure?.Invoke(options);
        if (!options.Enabled)
        {
            return builder;
        }

        builder.Services.AddOptions<CastIronKafkaOptions>().Configure(o =>
        {
            configuration?.Bind(o);
            configure?.Invoke(o);
        }).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CastIronKafkaOptions>, CastIronKafkaOptionsValidator>();
        builder.Services.TryAddSingleton<IKafkaDeadLetterSink>(sp => new KafkaDeadLetterTopics(sp.GetRequiredKeyedService<KafkaDeadLetters>(CastIronKafkaOptions.StreamProvider)));
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, KafkaTelemetry>();
        builder.Services.AddSingleton<IKafkaStatusSource, KafkaStatusSource>();
        builder.Services.AddSingleton<IPayloadPublisher, KafkaPayloadPublisher>();
        builder.Services.AddSingleton<KafkaJobEventSink>();
        builder.Services.TryAddSingleton<GrainJobEventSink>();
        // To pizza-tracker, and to the job's feed, readable and watchable from any silo.
        builder.Services.AddSingleton<IJobEventSink>(sp => new FanOutJobEventSink(sp.GetRequiredService<KafkaJobEventSink>(), sp.GetRequiredService<GrainJobEventSink>()));
        return builder.AddKafkaStreams(CastIronKafkaOptions.StreamProvider, o =>
        {
            o.BootstrapServers = options.Broker;
            o.MaxMessageBytes = options.MaxMessageBytes;
            o.BatchSize = options.MaxPollRecords;
            // Claims in the cluster's grain storage (Redis in a cluster): a claim grain lost with its silo still fences.
            o.ClaimStorage = Orleans.CastIron.Grains.CastIronNames.GrainStorage;
            foreach (var (key, value) in options.ClientSettings)
            {
                o.ClientSettings[key] = value;
            }

            o.Topics.Add(new KafkaTopicOptions { Name = options.TextPayloadTopic, GroupId = options.TextPayloadGroup, StreamNamespace = StreamingTextGrain.Namespace });
            o.Topics.Add(new KafkaTopicOptions { Name = options.VideoPayloadTopic, GroupId = options.VideoPayloadGroup, StreamNamespace = StreamingVideoGrain.Namespace });
            if (options.BucketNotifications == true)
            {
                // MinIO keys each record by "bucket/key": one stream, hence one ordered consumer, per object.
                o.Topics.Add(new KafkaTopicOptions { Name = options.SourceFileTopic, GroupId = options.SourceFileGroup, StreamNamespace = BucketNotificationGrain.Namespace, KeyField = "Key" });
            }

            configureStreams?.Invoke(o);
        });
    }
}

/// <summary>Publishes every job event to each sink in turn.</summary>
internal sealed class FanOutJobEventSink(params IJobEventSink[] sinks) : IJobEventSink
{
    public async Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default)
    {
        foreach (var sink in sinks)
        {
            await sink.PublishAsync(jobEvent, cancellationToken).ConfigureAwait(false);
        }
    }
}
