using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains.Services;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>The client's way in: the same operations as the REST API, on the silo the client is connected to.</summary>
[StatelessWorker]
public sealed partial class CastIronApiGrain(
    FileCommands files,
    ClusterStatusReader clusterStatus,
    PayloadDispatcher payloads,
    IEnumerable<IPayloadPublisher> publishers,
    IObjectStore store,
    IOptions<CastIronOptions> options,
    ILogger<CastIronApiGrain> logger) : Grain, ICastIronApiGrain
{
    private static readonly TimeSpan PayloadDeadline = TimeSpan.FromSeconds(20);

    /// <summary>The largest page a client may ask for: one answer stays a modest message.</summary>
    public const int MaxPage = 10_000;

    public Task<FileStatusRecord?> GetFileAsync(string fileId) => files.GetAsync(fileId);

    public async Task<ImmutableArray<FileStatusRecord>> QueryFilesAsync(FileStatus? status, int limit, int offset)
    {
        if (limit is < 1 or > MaxPage)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be between 1 and {MaxPage}");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return [.. await files.QueryAsync(status, limit, offset)];
    }

    public Task<CommandResult> CancelAsync(string fileId, string? reason) => files.CancelAsync(fileId, reason);

    public Task<CommandResult> RetryAsync(string fileId) => files.RetryAsync(fileId);

    public Task<ImmutableArray<RegisteredConfig>> GetProcessorsAsync() =>
        GrainFactory.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket).GetConfigsAsync();

    public Task<ConfigParseResult> ValidateConfigAsync(string sourceName, string tomlText) =>
        GrainFactory.GetGrain<IConfigValidatorGrain>(0).ValidateAsync(sourceName, tomlText);

    public Task<ClusterStatus> GetClusterStatusAsync() => clusterStatus.ReadAsync();

    public async Task<PayloadSendResult> SendPayloadAsync(PayloadKind kind, byte[] message, bool awaitOutcome)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (publishers.FirstOrDefault() is { } kafka)
        {
            // The sender waits on the outcome grain itself: the record may wait behind others, or a paused intake.
            var requestId = awaitOutcome ? PayloadOutcomes.NewRequestId() : null;
            return new PayloadSendResult { SentTo = await kafka.PublishAsync(kind, message, requestId, CancellationToken.None), RequestId = requestId };
        }

        // Run here within a deadline under Orleans' response timeout, as the Kafka consumers do.
        using var deadline = new CancellationTokenSource(PayloadDeadline);
        try
        {
            // WaitAsync too: a handler that ignores its token is left running rather than holding the call.
            var problem = await payloads.DispatchAsync(message, $"client ({kind})", logger, null, deadline.Token).WaitAsync(PayloadDeadline);
            return new PayloadSendResult { Handled = problem is null, Problem = problem, HandledAt = $"silo {RuntimeIdentity}" };
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && deadline.IsCancellationRequested))
        {
            return new PayloadSendResult { Problem = $"the handler did not finish within {PayloadDeadline.TotalSeconds:0} s" };
        }
    }

    public async Task<string?> ReadErrorLogTailAsync(string fileId, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        maxBytes = Math.Min(maxBytes, 1024 * 1024);
        if (await files.GetAsync(fileId) is not { ErrorLogKey: { } key } record)
        {
            return null;
        }

        var bucket = record.BucketName.Length > 0 ? record.BucketName : options.Value.Bucket;
        if (await store.StatAsync(bucket, key) is null)
        {
            return null; // Removed since (retention, or by hand).
        }

        await using var log = await store.OpenReadAsync(bucket, key);
        // Only the tail is kept: a log can be large, and the end says why the run failed.
        var tail = new Queue<byte[]>();
        var kept = 0;
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await log.ReadAsync(buffer)) > 0)
        {
            tail.Enqueue(buffer[..read]);
            kept += read;
            while (kept - tail.Peek().Length >= maxBytes)
            {
                kept -= tail.Dequeue().Length;
            }
        }

        var bytes = tail.SelectMany(b => b).ToArray();
        var text = System.Text.Encoding.UTF8.GetString(bytes, Math.Max(0, bytes.Length - maxBytes), Math.Min(maxBytes, bytes.Length));
        // Whole lines: a cut first line is dropped unless it is the only one.
        return bytes.Length > maxBytes && text.IndexOf('\n', StringComparison.Ordinal) is var newline and >= 0 && newline < text.Length - 1 ? text[(newline + 1)..] : text;
    }
}
