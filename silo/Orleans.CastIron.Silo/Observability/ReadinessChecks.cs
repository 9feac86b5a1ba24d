using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Kafka;
using Orleans.CastIron.Storage;
using Orleans.Runtime;
using StackExchange.Redis;

namespace Orleans.CastIron.Silo.Observability;

/// <summary>
/// A readiness check bounded by <see cref="Timeout"/>: a dependency that does not answer in time is unhealthy with
/// that as its reason, and a call that ignores its token is not waited for either, so <c>/health/ready</c> never hangs.
/// </summary>
public abstract class BoundedHealthCheck : IHealthCheck
{
    /// <summary>How long one check may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>What is checked, as the reasons name it (e.g. <c>the object store</c>).</summary>
    protected abstract string What { get; }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            return await ProbeAsync(timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{What} did not answer within {Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{What} failed: {Describe(ex)}", ex);
        }
    }

    /// <summary>Asks the dependency something cheap; throws or returns an unhealthy result when it cannot.</summary>
    protected abstract Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken);

    /// <summary>An exception in one short line: its type and the start of its message.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var message = exception.Message.ReplaceLineEndings(" ");
        return $"{exception.GetType().Name}: {(message.Length > 200 ? message[..200] + "..." : message)}";
    }
}

/// <summary>Ready while this silo is <c>Active</c> in Orleans' cluster membership.</summary>
public sealed class OrleansMembershipHealthCheck(IClusterMembershipService membership, ILocalSiloDetails silo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = membership.CurrentSnapshot;
        var active = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        var result = snapshot.Members.TryGetValue(silo.SiloAddress, out var self) switch
        {
            true when self.Status == SiloStatus.Active => HealthCheckResult.Healthy($"this silo is Active ({active} active silo(s) in the cluster)"),
            true => HealthCheckResult.Unhealthy($"this silo is {self.Status}, not Active"),
            false => HealthCheckResult.Unhealthy("this silo has not joined the cluster"),
        };
        return Task.FromResult(result);
    }
}

/// <summary>Ready while the object store answers a stat in the bucket (one HEAD request on S3; a file look-up on the folder store).</summary>
public sealed class ObjectStoreHealthCheck(IObjectStore store, IOptions<CastIronOptions> options) : BoundedHealthCheck
{
    /// <summary>The key asked for: it need not exist, an answer either way is one.</summary>
    public const string ProbeKey = "castiron-health-probe";

    protected override string What => "the object store";

    protected override async Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var bucket = options.Value.Bucket;
        await store.StatAsync(bucket, ProbeKey, cancellationToken).ConfigureAwait(false);
        return HealthCheckResult.Healthy($"bucket '{bucket}' answered");
    }
}

/// <summary>Ready while the status store (ClickHouse when configured, else the local index) answers a read by id.</summary>
public sealed class StatusStoreHealthCheck(IFileStatusStore store) : BoundedHealthCheck
{
    /// <summary>The id read: a valid file id that no upload derives.</summary>
    public const string ProbeId = "00000000-0000-0000-0000-000000000000";

    protected override string What => "the status store";

    protected override async Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        await store.GetAsync(ProbeId, cancellationToken).ConfigureAwait(false);
        return HealthCheckResult.Healthy("answered a read");
    }
}

/// <summary>
/// Ready while a Kafka broker answers a metadata request (within <see cref="MetadataTimeout"/>). One admin client is
/// kept, and an answer is reused for <see cref="CacheFor"/>, so frequent probes cost at most one request per interval;
/// concurrent probes share the request in flight.
/// </summary>
public sealed partial class KafkaHealthCheck : BoundedHealthCheck, IDisposable
{
    /// <summary>How long librdkafka waits for metadata.</summary>
    public static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>How long an answer is reused.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private readonly CastIronKafkaOptions _options;
    private readonly Lazy<IAdminClient> _admin;
    private readonly Lock _lock = new();
    private Task<HealthCheckResult>? _last;
    private long _lastStarted;

    public KafkaHealthCheck(IOptions<CastIronKafkaOptions> options, ILogger<KafkaHealthCheck> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _admin = new(() => new AdminClientBuilder(new AdminClientConfig(new Dictionary<string, string>(_options.ClientSettings)) { BootstrapServers = _options.Broker })
            // Unreachable brokers are this check's answer, not log lines of their own.
            .SetLogHandler((_, message) => LogClient(logger, message.Facility, message.Message))
            .SetErrorHandler((_, error) => LogClient(logger, error.Code.ToString(), error.Reason))
            .Build());
    }

    protected override string What => "Kafka";

    protected override Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_last is null || (_last.IsCompleted && Stopwatch.GetElapsedTime(_lastStarted) >= CacheFor))
            {
                _lastStarted = Stopwatch.GetTimestamp();
                _last = Task.Run(Probe, CancellationToken.None);
            }

            return _last;
        }
    }

    private HealthCheckResult Probe()
    {
        try
        {
            // All topics' metadata, as the provider's topology watcher asks: naming a topic makes brokers that
            // auto-create topics create it.
            var metadata = _admin.Value.GetMetadata(MetadataTimeout);
            return HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s) answered");
        }
        catch (KafkaException ex)
        {
            return HealthCheckResult.Unhealthy($"no broker of '{_options.Broker}' answered a metadata request within {MetadataTimeout.TotalSeconds:0.#} s ({ex.Error.Reason})");
        }
    }

    public void Dispose()
    {
        if (_admin.IsValueCreated)
        {
            _admin.Value.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "Kafka health client: {Facility} {Message}")]
    private static partial void LogClient(ILogger logger, string facility, string message);
}

/// <summary>
/// Ready while Redis answers <c>PING</c>: registered when <c>CastIron:Cluster:Redis</c> (<c>CASTIRON_REDIS</c>) holds a
/// StackExchange.Redis connection string. It pings over the cluster's own connection (the
/// <see cref="IConnectionMultiplexer"/> the job timers use) when the silo has one, else over a connection of its own,
/// kept for later checks and reconnecting by itself.
/// </summary>
public sealed class RedisHealthCheck(string connectionString, IServiceProvider? services = null) : BoundedHealthCheck, IDisposable
{
    private readonly Lock _lock = new();
    private Task<IConnectionMultiplexer>? _connection;
    private bool _owned;

    protected override string What => "Redis";

    protected override async Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var latency = await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return HealthCheckResult.Healthy($"PING answered in {latency.TotalMilliseconds:0.#} ms");
    }

    private Task<IConnectionMultiplexer> ConnectAsync()
    {
        lock (_lock)
        {
            if (_connection is null || _connection.IsFaulted || _connection.IsCanceled)
            {
                // Resolved off the request: the cluster's connection may still be connecting (synchronously).
                _connection = Task.Run(async () => services?.GetService<IConnectionMultiplexer>() ?? await ConnectOwnAsync().ConfigureAwait(false));
            }

            return _connection;
        }
    }

    private async Task<IConnectionMultiplexer> ConnectOwnAsync()
    {
        var options = ConfigurationOptions.Parse(connectionString);
        // Not connected yet is an unhealthy answer, not an exception; it keeps trying in the background.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = (int)Timeout.TotalMilliseconds;
        options.ClientName ??= "castiron-health";
        var connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        lock (_lock)
        {
            _owned = true;
        }

        return connection;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_owned && _connection is { IsCompletedSuccessfully: true })
            {
                _connection.Result.Dispose();
            }
        }
    }
}
