using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>What a Kafka integration adds to the cluster's status (registered only when a broker is configured).</summary>
public interface IKafkaStatusSource
{
    /// <summary>The queues and partitions across the cluster.</summary>
    Task<ClusterKafka> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The cluster's status, one way for the REST API's <c>/manager/status</c> and the client's <c>cluster</c> view:
/// active silos, the cluster's intake switch, files by status (or why the status store did not answer) and Kafka.
/// </summary>
public sealed class ClusterStatusReader(
    IGrainFactory grains,
    IFileStatusStore statusStore,
    IOptions<CastIronOptions> options,
    IEnumerable<IKafkaStatusSource> kafka)
{
    public async Task<ClusterStatus> ReadAsync(CancellationToken cancellationToken = default)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        ImmutableDictionary<FileStatus, int>? files = null;
        string? problem = null;
        try
        {
            var counts = await statusStore.CountAsync(cancellationToken);
            files = Enum.GetValues<FileStatus>().ToImmutableDictionary(s => s, s => counts.GetValueOrDefault(s));
        }
        catch (Exception ex) when (StatusStoreFailures.IsUnavailable(ex, cancellationToken))
        {
            // The status stays readable when the status store (ClickHouse) does not answer; it says so instead.
            problem = StatusStoreFailures.Describe(ex);
        }

        return new ClusterStatus
        {
            Silos = [.. hosts.Select(h => new ClusterSilo(h.Key.ToString(), h.Value.ToString()))],
            IntakePaused = await grains.GetGrain<IIntakeSwitchGrain>(0).IsPausedAsync(),
            Bucket = options.Value.Bucket,
            Files = files,
            StatusStoreProblem = problem,
            Kafka = kafka.FirstOrDefault() is { } source ? await source.ReadAsync(cancellationToken) : null,
        };
    }
}

/// <summary>Which failures mean "the status store did not answer", and how to say so without leaking its details.</summary>
public static class StatusStoreFailures
{
    /// <summary>A failure of the status store itself (unreachable, refusing, timing out, answering rows we cannot read).</summary>
    public static bool IsUnavailable(Exception exception, CancellationToken request) => exception switch
    {
        OperationCanceledException => !request.IsCancellationRequested,
        HttpRequestException or System.Data.Common.DbException or IOException or TimeoutException or System.Text.Json.JsonException => true,
        _ => false,
    };

    public static string Describe(Exception exception) =>
        $"the status store did not answer ({(exception is OperationCanceledException ? "timed out" : exception.GetType().Name)}); see the silo log";
}
