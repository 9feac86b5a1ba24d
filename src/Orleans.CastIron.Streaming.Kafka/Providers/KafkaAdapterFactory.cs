using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// Builds the Kafka adapter: <see cref="KafkaStreamOptions.QueuesPerTopic"/> Orleans queues per topic (a set fixed by
/// configuration, so every silo builds the same ring whatever it knows of the topics; partitions are spread over
/// the queues and join them as they appear), a cache per queue, and a failure handler that dead-letters records whose
/// delivery finally failed. Answers the provider's control command <see cref="KafkaStreamCommands.Status"/>.
/// </summary>
public sealed partial class KafkaAdapterFactory : IQueueAdapterFactory, IQueueAdapter, IControllable
{
    private readonly string _name;
    private readonly KafkaStreamOptions _options;
    private readonly KafkaStreamControl _control;
    private readonly KafkaDeadLetters _deadLetters;
    private readonly KafkaTopology _topology;
    private readonly IKafkaDataAdapter _dataAdapter;
    private readonly IGrainFactory _grains;
    private readonly ILocalSiloDetails _silo;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SimpleQueueCacheOptions _cacheOptions;
    private readonly Dictionary<string, (KafkaTopicOptions Topic, int Index)> _queues = new(StringComparer.Ordinal);
    private readonly HashRingBasedPartitionedStreamQueueMapper _mapper;
    private readonly Dictionary<QueueId, KafkaQueueAdapterReceiver> _receivers = [];
    private SimpleQueueAdapterCache? _cache;

    public KafkaAdapterFactory(
        string name,
        KafkaStreamOptions options,
        SimpleQueueCacheOptions cacheOptions,
        KafkaStreamControl control,
        KafkaDeadLetters deadLetters,
        KafkaTopology topology,
        IKafkaDataAdapter dataAdapter,
        IGrainFactory grains,
        ILocalSiloDetails silo,
        TimeProvider time,
        ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        _name = name;
        _options = options;
        _cacheOptions = cacheOptions;
        _control = control;
        _deadLetters = deadLetters;
        _topology = topology;
        _dataAdapter = dataAdapter;
        _grains = grains;
        _silo = silo;
        _time = time;
        _loggerFactory = loggerFactory;
        foreach (var topic in options.Topics)
        {
            for (var index = 0; index < options.QueuesPerTopic; index++)
            {
                _queues[$"{topic.Name}#{index}"] = (topic, index);
            }
        }

        _mapper = new HashRingBasedPartitionedStreamQueueMapper([.. _queues.Keys], name);
    }

    public static KafkaAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetOptionsByName<KafkaStreamOptions>(name);
        if (options.ClaimStorage is { } storage && services.GetKeyedService<Orleans.Storage.IGrainStorage>(storage) is null)
        {
            throw new OrleansConfigurationException($"Kafka stream provider '{name}': {nameof(KafkaStreamOptions.ClaimStorage)} '{storage}' is not a registered grain storage provider");
        }

        return ActivatorUtilities.CreateInstance<KafkaAdapterFactory>(
            services,
            name,
            options,
            services.GetOptionsByName<SimpleQueueCacheOptions>(name),
            services.GetRequiredKeyedService<KafkaStreamControl>(name),
            services.GetRequiredKeyedService<KafkaDeadLetters>(name),
            services.GetRequiredKeyedService<KafkaTopology>(name),
            services.GetKeyedService<IKafkaDataAdapter>(name) ?? new DefaultKafkaDataAdapter(options.UnkeyedStreamsPerPartition),
            services.GetService<TimeProvider>() ?? TimeProvider.System);
    }

    public string Name => _name;

    public bool IsRewindable => false;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadOnly;

    public async Task<IQueueAdapter> CreateAdapter()
    {
        // The topics' partitions, read once before the agents start (with retries in the background after that).
        await _topology.StartAsync().ConfigureAwait(false);
        return this;
    }

    public IQueueAdapterCache GetQueueAdapterCache() =>
        _cache ??= new SimpleQueueAdapterCache(_cacheOptions, _name, _loggerFactory);

    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new DeadLetterFailureHandler(this, queueId));

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        var (topic, index) = _queues[_mapper.QueueToPartition(queueId)];
        var fence = new GrainQueueFence(_grains, $"{_name}/{topic.Name}/{index}", _silo.SiloAddress, _options.OwnershipLease);
        var receiver = new KafkaQueueAdapterReceiver(
            _name, _options, topic, index, _control, _topology, fence, _deadLetters, _dataAdapter, consumerFactory: null, _time,
            _loggerFactory.CreateLogger<KafkaQueueAdapterReceiver>());
        lock (_receivers)
        {
            _receivers[queueId] = receiver;
        }

        return receiver;
    }

    public Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext) =>
        throw new NotSupportedException($"Kafka stream provider '{_name}' only reads: produce to Kafka with a Kafka client");

    public Task<object?> ExecuteCommand(int command, object? arg) => command switch
    {
        KafkaStreamCommands.Status => Task.FromResult<object?>(_control.Queues().Select(q => q with { Silo = _silo.SiloAddress.ToString() }).ToList()),
        _ => throw new NotSupportedException($"Kafka stream provider '{_name}' has no command {command}"),
    };

    private KafkaQueueAdapterReceiver? Receiver(QueueId queueId)
    {
        lock (_receivers)
        {
            return _receivers.GetValueOrDefault(queueId);
        }
    }

    /// <summary>Dead-letters a record whose delivery failed for good; implicit subscriptions are never faulted.</summary>
    private sealed partial class DeadLetterFailureHandler(KafkaAdapterFactory factory, QueueId queueId) : IStreamFailureHandler
    {
        private readonly ILogger _logger = factory._loggerFactory.CreateLogger<KafkaAdapterFactory>();

        public bool ShouldFaultSubsriptionOnError => false;

        public Task OnDeliveryFailure(GuidId subscriptionId, string streamProviderName, StreamId streamId, StreamSequenceToken? sequenceToken) =>
            factory.Receiver(queueId)?.DeadLetterAsync(sequenceToken, $"delivery to the consumer of stream {streamId} failed") ?? Task.CompletedTask;

        /// <summary>
        /// A failed handshake is about the consumer, not a record: the agent still delivers the stream's records (each
        /// dead-lettered if its own delivery fails), so this only logs.
        /// </summary>
        public Task OnSubscriptionFailure(GuidId subscriptionId, string streamProviderName, StreamId streamId, StreamSequenceToken? sequenceToken)
        {
            LogSubscriptionFailed(_logger, streamId.ToString(), factory._name);
            return Task.CompletedTask;
        }

        [LoggerMessage(1, LogLevel.Warning, "Subscribing the consumer of stream {StreamId} (Kafka stream provider '{Provider}') failed; its records are still delivered")]
        private static partial void LogSubscriptionFailed(ILogger logger, string streamId, string provider);
    }
}

/// <summary>Control commands of the Kafka stream provider (beside Orleans' own <c>StartAgents</c> / <c>StopAgents</c>).</summary>
public static class KafkaStreamCommands
{
    /// <summary>The status of the queues read on a silo: a list of <see cref="KafkaQueueStatus"/>.</summary>
    public const int Status = (int)PersistentStreamProviderCommand.AdapterFactoryCommandStartRange + 1;
}
