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
    FileCommands files,
    ClusterStatusReader clusterStatus,
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

    /// <summary>Up to 1,000 events of a job after sequence <paramref name="after"/>; or, with <paramref name="wait"/>, the next ones as they come.</summary>
    public Task<JobEventPage> ReadJobEventsAsync(string jobId, long after, TimeSpan wait = default) =>
        wait > TimeSpan.Zero
            ? grains.GetGrain<IJobEventsGrain>(jobId).WaitAsync(after, 1_000, wait)
            : grains.GetGrain<IJobEventsGrain>(jobId).ReadAsync(after, 1_000);

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

    /// <summary>The cluster's status in the shape <c>/manager/status</c> has always had.</summary>
    public async Task<object> GetStatusAsync(CancellationToken cancellationToken)
    {
        var status = await clusterStatus.ReadAsync(cancellationToken);
        var configs = await Registry.GetConfigsAsync();
        return new
        {
            status.Silos,
            Intake = status.IntakePaused ? "paused" : "running",
            status.Bucket,
            Processors = configs.Select(c => new { c.ConfigKey, c.Registered, c.Note, Errors = c.Errors.Length }),
            status.Kafka,
            Jobs = status.Files?.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value),
            StatusStore = status.StatusStoreProblem ?? "ok",
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
