using Microsoft.Extensions.Options;
using Orleans.CastIron.Config;
using Orleans.CastIron.Events;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Storage;
using Orleans.Runtime;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.CastIron.Silo.Services;

/// <summary>How the webhook answers a notification body.</summary>
public enum WebhookStatus
{
    Taken,
    Refused,
    Paused,
    Failed,
}

/// <summary>What became of a notification body's events.</summary>
public sealed record WebhookOutcome(WebhookStatus Status, int Accepted, int Ignored, string? Message);

/// <summary>What the REST API asks of the cluster; endpoints stay free of grain logic.</summary>
public sealed class CastIronService(
    IGrainFactory grains,
    IFileStatusStore statusStore,
    FileCommands files,
    MemoryJobEventFeed jobEvents,
    IntakeService intake,
    IOptions<CastIronOptions> options,
    IServiceProvider services)
{
    private IProcessorRegistryGrain Registry => grains.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket);

    /// <summary>The live status of a file by id (from its job, else the status store), or <see langword="null"/>.</summary>
    public Task<FileStatusRecord?> GetFileAsync(string id, CancellationToken cancellationToken) => files.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<FileStatusRecord>> QueryFilesAsync(FileStatus? status, int limit, int offset, CancellationToken cancellationToken) =>
        files.QueryAsync(status, limit, offset, cancellationToken);

    public Task<CommandResult> CancelAsync(string id, CancellationToken cancellationToken) => files.CancelAsync(id);

    public Task<CommandResult> RetryAsync(string id, CancellationToken cancellationToken) => files.RetryAsync(id, cancellationToken);

    public Task<System.Collections.Immutable.ImmutableArray<RegisteredConfig>> GetProcessorsAsync() => Registry.GetConfigsAsync();

    public Task<ConfigParseResult> ValidateConfigAsync(string name, string text) =>
        grains.GetGrain<IConfigValidatorGrain>(0).ValidateAsync(name, text);

    public IReadOnlyList<Jobs.JobEvent> GetJobEvents(string jobId) => jobEvents.Events(jobId);

    /// <summary>The Kafka stream provider, when a broker is configured.</summary>
    private bool KafkaEnabled => services.GetKeyedService<KafkaStreamControl>(Kafka.CastIronKafkaOptions.StreamProvider) is not null;

    private IManagementGrain Management => grains.GetGrain<IManagementGrain>(0);

    public bool IntakePaused => intake.IsPaused;

    /// <summary>
    /// Stops taking bucket events and Kafka records on every silo (the cluster's switch, which silos joining later
    /// follow too); false when already stopped.
    /// </summary>
    public Task<bool> PauseIntakeAsync() => SwitchIntakeAsync(paused: true);

    /// <summary>Takes bucket events and Kafka records on every silo again; false when not stopped.</summary>
    public Task<bool> ResumeIntakeAsync() => SwitchIntakeAsync(paused: false);

    private async Task<bool> SwitchIntakeAsync(bool paused)
    {
        var changed = await grains.GetGrain<IIntakeSwitchGrain>(0).SetPausedAsync(paused);
        // Here at once; the other silos' followers within a second, and their Kafka agents right now.
        changed |= paused ? intake.Pause() : intake.Resume();
        if (KafkaEnabled && await Management.AgentsStoppedAsync(Kafka.CastIronKafkaOptions.StreamProvider) != paused)
        {
            await (paused ? Management.StopAgentsAsync(Kafka.CastIronKafkaOptions.StreamProvider) : Management.StartAgentsAsync(Kafka.CastIronKafkaOptions.StreamProvider));
            changed = true;
        }

        return changed;
    }

    public async Task<object> GetStatusAsync(CancellationToken cancellationToken)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var configs = await Registry.GetConfigsAsync();
        // The health page stays up when the status store (ClickHouse) does not answer; it says so instead.
        IReadOnlyDictionary<FileStatus, int>? counts = null;
        string? statusStoreProblem = null;
        try
        {
            counts = await statusStore.CountAsync(cancellationToken);
        }
        catch (Exception ex) when (Api.StatusStoreFilter.IsUnavailable(ex, cancellationToken))
        {
            statusStoreProblem = Api.StatusStoreFilter.Describe(ex);
        }

        var jobs = counts is null ? null : Enum.GetValues<FileStatus>().ToDictionary(s => s.ToString(), s => counts.GetValueOrDefault(s));

        return new
        {
            Silos = hosts.Select(h => new { Address = h.Key.ToString(), Status = h.Value.ToString() }),
            Intake = intake.IsPaused ? "paused" : "running",
            Bucket = options.Value.Bucket,
            Processors = configs.Select(c => new { c.ConfigKey, c.Registered, c.Note, Errors = c.Errors.Length }),
            Kafka = KafkaEnabled ? await KafkaStatusAsync() : null,
            Jobs = jobs,
            StatusStore = statusStoreProblem ?? "ok",
        };
    }

    /// <summary>
    /// Every Kafka partition: committed and end offsets from Kafka, and, where a queue reads it, the silo, the last
    /// offset read, the delivered position and a record holding it.
    /// </summary>
    private async Task<object> KafkaStatusAsync()
    {
        var provider = Kafka.CastIronKafkaOptions.StreamProvider;
        var queues = await Management.QueuesAsync(provider);
        var reading = queues.SelectMany(q => q.Partitions.Select(p => (Queue: q, Partition: p))).ToDictionary(r => (r.Partition.Topic, r.Partition.Partition));
        var committed = await services.GetRequiredKeyedService<KafkaTopology>(provider).CommittedPositionsAsync();
        return new
        {
            Paused = await Management.AgentsStoppedAsync(provider),
            Queues = queues.Select(q => new { q.Queue, q.Silo, q.State, q.BufferedBytes }),
            Partitions = committed.Select(position =>
            {
                var read = reading.GetValueOrDefault((position.Topic, position.Partition));
                var p = read.Partition is { } live ? live with { Committed = Math.Max(live.Committed, position.Committed), HighWatermark = live.HighWatermark ?? position.HighWatermark } : position;
                return new
                {
                    p.Topic,
                    p.Partition,
                    read.Queue?.Queue,
                    read.Queue?.Silo,
                    LastRead = read.Partition is null ? (long?)null : p.LastRead,
                    p.Committed,
                    DeliveredUpTo = read.Partition is null ? (long?)null : p.DeliveredUpTo,
                    p.HighWatermark,
                    p.Lag,
                    p.Held,
                };
            }).OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition),
        };
    }

    /// <summary>
    /// Queues every event of a notification body for intake. Events that cannot be acted on (other kinds, other
    /// buckets, keys this system refuses, records missing fields) are acknowledged and counted as ignored: a sender
    /// that retries refused events one by one (MinIO) would otherwise stop delivering everything behind them. Only a
    /// body that is not JSON at all is refused. A paused intake or a full queue asks the sender to retry (503).
    /// </summary>
    public WebhookOutcome TakeBucketNotification(byte[] body)
    {
        if (services.GetService<Storage.S3.Providers.S3EventSource>() is not { } queue)
        {
            return new(WebhookStatus.Refused, 0, 0, "the S3 webhook needs the S3 store (set MINIO_HOST)");
        }

        if (intake.IsPaused)
        {
            return new(WebhookStatus.Paused, 0, 0, "intake is stopped (/manager/stop-consumers); send again later");
        }

        var accepted = 0;
        var problems = new List<string>();
        var results = BucketEventParser.ParseAll(body);
        if (results is [(null, { Code: BucketEventErrorCode.MalformedJson } malformed)])
        {
            return new(WebhookStatus.Refused, 0, 0, $"{malformed.Code}: {malformed.Message}");
        }

        foreach (var (bucketEvent, error) in results)
        {
            if (bucketEvent is null)
            {
                problems.Add($"{error!.Code}: {error.Message}");
            }
            else if (bucketEvent.Bucket != options.Value.Bucket)
            {
                problems.Add($"bucket '{bucketEvent.Bucket}' is not '{options.Value.Bucket}'");
            }
            else if (Storage.S3.Providers.S3ObjectStore.KeyProblem(bucketEvent.Key) is { } keyProblem)
            {
                problems.Add($"{keyProblem}: '{bucketEvent.Key}'");
            }
            else if (queue.TryPost(bucketEvent))
            {
                accepted++;
            }
            else
            {
                return new(WebhookStatus.Failed, accepted, problems.Count, $"{queue.Pending} notifications are waiting to be taken; send again later");
            }
        }

        return new(WebhookStatus.Taken, accepted, problems.Count, problems.Count > 0 ? string.Join("; ", problems.Take(10)) : null);
    }

}
