using Microsoft.Extensions.Options;
using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;

namespace Orleans.CastIron.Client;

/// <summary>The client over an Orleans cluster client.</summary>
internal sealed class CastIronClient(IClusterClient cluster, IOptions<CastIronClientOptions> options) : ICastIronClient
{
    private static readonly TimeSpan WatchPoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan OutcomePoll = TimeSpan.FromSeconds(20);

    private ICastIronApiGrain Api => cluster.GetGrain<ICastIronApiGrain>(0);

    public async Task<SubmittedFile> SubmitAsync(string path, string configKey, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await SubmitAsync(file, Path.GetFileName(path), configKey, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<SubmittedFile> SubmitAsync(Stream content, string fileName, string configKey, string? contentType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentException.ThrowIfNullOrEmpty(configKey);
        var upload = cluster.GetGrain<IFileUploadGrain>(Guid.NewGuid());
        try
        {
            var buffer = new byte[options.Value.ChunkBytes];
            long offset = 0;
            int read;
            while ((read = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await upload.AppendAsync(offset, buffer[..read]).WaitAsync(cancellationToken).ConfigureAwait(false);
                offset += read;
            }

            return await upload.CompleteAsync(new SubmitRequest(configKey, fileName, contentType)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Nothing reached the inbox; what was spooled goes (best effort: the grain also drops it when idle).
            _ = upload.AbortAsync();
            throw;
        }
    }

    public Task<FileStatusRecord?> GetFileAsync(string fileId, CancellationToken cancellationToken = default) =>
        Api.GetFileAsync(fileId).WaitAsync(cancellationToken);

    public async Task<IReadOnlyList<FileStatusRecord>> ListFilesAsync(FileStatus? status = null, int limit = 50, int offset = 0, CancellationToken cancellationToken = default) =>
        await Api.QueryFilesAsync(status, limit, offset).WaitAsync(cancellationToken).ConfigureAwait(false);

    public Task<CommandResult> CancelAsync(string fileId, string? reason = null, CancellationToken cancellationToken = default) =>
        Api.CancelAsync(fileId, reason).WaitAsync(cancellationToken);

    public Task<CommandResult> RetryAsync(string fileId, CancellationToken cancellationToken = default) =>
        Api.RetryAsync(fileId).WaitAsync(cancellationToken);

    public async Task<IReadOnlyList<RegisteredConfig>> ListConfigsAsync(CancellationToken cancellationToken = default) =>
        await Api.GetProcessorsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<FileJobEvent> WatchAsync(string fileId, long after = 0, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // A queued file has no job yet: its events begin once a config takes it.
        string? jobId;
        while (true)
        {
            var record = await GetFileAsync(fileId, cancellationToken).ConfigureAwait(false) ?? throw new ArgumentException($"no file with id '{fileId}'", nameof(fileId));
            jobId = record.JobId;
            if (jobId is not null || record.Status.IsFinal())
            {
                break;
            }

            await Task.Delay(WatchPoll, cancellationToken).ConfigureAwait(false);
        }

        if (jobId is null)
        {
            yield break;
        }

        var feed = cluster.GetGrain<IJobEventsGrain>(jobId);
        var position = after;
        while (true)
        {
            // A long poll, well under Orleans' response timeout.
            var page = await feed.WaitAsync(position, 1_000, TimeSpan.FromSeconds(20)).WaitAsync(cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Events)
            {
                position = entry.Sequence;
                yield return new FileJobEvent(fileId, jobId, entry.Sequence, entry.Event);
            }

            if (page.Ended && position >= page.Last)
            {
                yield break;
            }
        }
    }

    public async Task<PayloadSendResult> SendPayloadAsync(string method, string data, IReadOnlyDictionary<string, string>? arguments = null, PayloadKind kind = PayloadKind.Text, bool waitForOutcome = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(data);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("worker_run_method", method);
            WriteValue(json, "data", data);
            foreach (var (name, value) in arguments ?? new Dictionary<string, string>())
            {
                if (name is "worker_run_method" or "data")
                {
                    throw new ArgumentException($"'{name}' is set by its own parameter, not as an argument", nameof(arguments));
                }

                WriteValue(json, name, value);
            }

            json.WriteEndObject();
        }

        var sent = await Api.SendPayloadAsync(kind, buffer.WrittenSpan.ToArray(), waitForOutcome).WaitAsync(cancellationToken).ConfigureAwait(false);
        return sent.RequestId is { } requestId ? await AwaitOutcomeAsync(sent, requestId, cancellationToken).ConfigureAwait(false) : sent;
    }

    /// <summary>Long polls the outcome its consumer reports, until <see cref="CastIronClientOptions.PayloadOutcomeTimeout"/>.</summary>
    private async Task<PayloadSendResult> AwaitOutcomeAsync(PayloadSendResult sent, string requestId, CancellationToken cancellationToken)
    {
        var outcomes = cluster.GetGrain<IPayloadOutcomeGrain>(requestId);
        var timeout = options.Value.PayloadOutcomeTimeout;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var left = timeout - clock.Elapsed;
            var asked = System.Diagnostics.Stopwatch.StartNew();
            PayloadOutcome? outcome;
            try
            {
                outcome = await outcomes.WaitAsync(left < OutcomePoll ? left : OutcomePoll).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or Runtime.SiloUnavailableException or Runtime.OrleansMessageRejectionException && !cancellationToken.IsCancellationRequested)
            {
                // The outcome's silo went away or is stopping: ask again (its report, if it was lost with the silo, never comes).
                await Task.Delay(WatchPoll, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (outcome is not null)
            {
                return sent with { Handled = outcome.Handled, Problem = outcome.Problem, HandledAt = outcome.HandledAt };
            }

            if (asked.Elapsed < WatchPoll)
            {
                // Answered at once (its silo is stopping): not a tight loop of calls.
                await Task.Delay(WatchPoll, cancellationToken).ConfigureAwait(false);
            }
        }

        return sent with { Problem = $"no outcome within {timeout}: the message is in Kafka at {sent.SentTo} and is handled when its partition's consumer reaches it (a backlog, or intake paused?)" };
    }

    /// <summary>JSON text as itself (an object, number, true ...), anything else as a string.</summary>
    private static void WriteValue(System.Text.Json.Utf8JsonWriter json, string name, string value)
    {
        json.WritePropertyName(name);
        try
        {
            using var parsed = System.Text.Json.JsonDocument.Parse(value);
            parsed.RootElement.WriteTo(json);
        }
        catch (System.Text.Json.JsonException)
        {
            json.WriteStringValue(value);
        }
    }

    public Task<ClusterStatus> GetClusterStatusAsync(CancellationToken cancellationToken = default) =>
        Api.GetClusterStatusAsync().WaitAsync(cancellationToken);

    public Task<string?> ReadErrorLogTailAsync(string fileId, int maxBytes = 4096, CancellationToken cancellationToken = default) =>
        Api.ReadErrorLogTailAsync(fileId, maxBytes).WaitAsync(cancellationToken);

    public Task<ConfigParseResult> ValidateConfigAsync(string tomlText, string sourceName = "config.toml", CancellationToken cancellationToken = default) =>
        Api.ValidateConfigAsync(sourceName, tomlText).WaitAsync(cancellationToken);
}

/// <summary>Clients over an Orleans client the caller already has.</summary>
public static class CastIronClients
{
    /// <summary>
    /// The Cast Iron API over <paramref name="cluster"/>: for a process that is already connected to the cluster, or
    /// that hosts a silo itself (co-hosting), instead of <c>AddCastIronClient</c>'s own connection.
    /// </summary>
    public static ICastIronClient Create(IClusterClient cluster, CastIronClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return new CastIronClient(cluster, Microsoft.Extensions.Options.Options.Create(options ?? new CastIronClientOptions()));
    }
}
