using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;

namespace Orleans.CastIron.Client;

/// <summary>
/// A .NET service's way into a Cast Iron cluster (register with <c>services.AddCastIronClient(configuration)</c>).
/// Every call goes through the cluster: the client needs no object-store or status-store credentials.
/// </summary>
public interface ICastIronClient
{
    /// <summary>
    /// Uploads a local file into the inbox of <paramref name="configKey"/> (its key, or its file name when only one
    /// registered config has it) under the file's own name; returns its file id at once (processing follows).
    /// </summary>
    /// <exception cref="ArgumentException">No such config, a name the config does not take, or a name that is not a valid object name.</exception>
    Task<SubmittedFile> SubmitAsync(string path, string configKey, CancellationToken cancellationToken = default);

    /// <summary>Uploads <paramref name="content"/> as <paramref name="fileName"/> into the inbox of <paramref name="configKey"/>.</summary>
    Task<SubmittedFile> SubmitAsync(Stream content, string fileName, string configKey, string? contentType = null, CancellationToken cancellationToken = default);

    /// <summary>A file's status, or null when no file has that id.</summary>
    Task<FileStatusRecord?> GetFileAsync(string fileId, CancellationToken cancellationToken = default);

    /// <summary>A page of files, newest update first, optionally only those in <paramref name="status"/>.</summary>
    Task<IReadOnlyList<FileStatusRecord>> ListFilesAsync(FileStatus? status = null, int limit = 50, int offset = 0, CancellationToken cancellationToken = default);

    /// <summary>Cancels a file that has not finished.</summary>
    Task<CommandResult> CancelAsync(string fileId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Runs a failed or canceled file again.</summary>
    Task<CommandResult> RetryAsync(string fileId, CancellationToken cancellationToken = default);

    /// <summary>Every config in the bucket: registered, or with its errors.</summary>
    Task<IReadOnlyList<RegisteredConfig>> ListConfigsAsync(CancellationToken cancellationToken = default);

    /// <summary>Validates config text without registering it: every error with its key, line and column.</summary>
    Task<ConfigParseResult> ValidateConfigAsync(string tomlText, string sourceName = "config.toml", CancellationToken cancellationToken = default);

    /// <summary>
    /// The events of a file's job as they happen (created, PROGRESS, TASK, COMMITTED, and last its final status),
    /// wherever they were published. Each carries its sequence number: watching again with <paramref name="after"/> set
    /// to the last one seen misses nothing and repeats nothing. Ends after the final status (at once for a file that
    /// ended before any config took it).
    /// </summary>
    /// <exception cref="ArgumentException">No file has that id.</exception>
    IAsyncEnumerable<FileJobEvent> WatchAsync(string fileId, long after = 0, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a payload message to the handler named <paramref name="method"/> with <paramref name="data"/> (JSON
    /// text, or any other text as a string) and <paramref name="arguments"/> as the message's other fields (each JSON
    /// text or a string). With a broker the message is produced to its topic, where its handler takes it; with
    /// <paramref name="waitForOutcome"/> the result also says how the handler ended (handled, or dead-lettered and why),
    /// as the consumer that took the record reports it, or that no outcome came within
    /// <see cref="CastIronClientOptions.PayloadOutcomeTimeout"/>. Without a broker a silo runs the handler now (within
    /// 20 s) and the result says how it went.
    /// </summary>
    Task<PayloadSendResult> SendPayloadAsync(string method, string data, IReadOnlyDictionary<string, string>? arguments = null, PayloadKind kind = PayloadKind.Text, bool waitForOutcome = false, CancellationToken cancellationToken = default);

    /// <summary>The cluster at a glance: silos, intake, files by status, Kafka partitions with their lag.</summary>
    Task<ClusterStatus> GetClusterStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>The end of a failed file's error log (at most <paramref name="maxBytes"/>, whole lines), or null when it has none.</summary>
    Task<string?> ReadErrorLogTailAsync(string fileId, int maxBytes = 4096, CancellationToken cancellationToken = default);
}

/// <summary>A job event of a watched file.</summary>
/// <param name="FileId">The file.</param>
/// <param name="JobId">Its job.</param>
/// <param name="Sequence">The event's place in the job's feed: resume after it.</param>
/// <param name="Event">The event, as published on <c>pizza-tracker</c>.</param>
public sealed record FileJobEvent(string FileId, string JobId, long Sequence, Jobs.JobEvent Event);
