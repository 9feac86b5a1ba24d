using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>
/// What a client of the cluster (the .NET SDK, the <c>castiron</c> command line) asks of it, answered by the silo the
/// client is connected to from the cluster's shared stores, as the REST API answers. Stateless: any silo serves it.
/// </summary>
[Alias("castiron.ICastIronApiGrain")]
public interface ICastIronApiGrain : IGrainWithIntegerKey
{
    /// <summary>The live status of a file (from its job, else the status store), or null when no file has that id.</summary>
    [Alias("GetFile")]
    Task<FileStatusRecord?> GetFileAsync(string fileId);

    /// <summary>Files newest update first, optionally only those in <paramref name="status"/>.</summary>
    [Alias("QueryFiles")]
    Task<ImmutableArray<FileStatusRecord>> QueryFilesAsync(FileStatus? status, int limit, int offset);

    /// <summary>Cancels a file that has not finished.</summary>
    [Alias("Cancel")]
    Task<CommandResult> CancelAsync(string fileId, string? reason);

    /// <summary>Runs a failed or canceled file again.</summary>
    [Alias("Retry")]
    Task<CommandResult> RetryAsync(string fileId);

    /// <summary>Every config the bucket holds, registered or with its errors.</summary>
    [Alias("GetProcessors")]
    Task<ImmutableArray<RegisteredConfig>> GetProcessorsAsync();

    /// <summary>Parses and validates config text without registering it.</summary>
    [Alias("ValidateConfig")]
    Task<ConfigParseResult> ValidateConfigAsync(string sourceName, string tomlText);

    /// <summary>
    /// A payload message (<c>{"worker_run_method", "data", ...}</c>): produced to its Kafka topic when the cluster has
    /// a broker (its handler runs from there; with <paramref name="awaitOutcome"/> the record carries a request id
    /// under which its outcome is reported to <see cref="IPayloadOutcomeGrain"/>); without a broker its handler runs
    /// now and the result says how it went.
    /// </summary>
    [Alias("SendPayload")]
    Task<PayloadSendResult> SendPayloadAsync(PayloadKind kind, byte[] message, bool awaitOutcome);

    /// <summary>The cluster at a glance: silos, intake, files by status, Kafka partitions with their lag.</summary>
    [Alias("GetClusterStatus")]
    Task<ClusterStatus> GetClusterStatusAsync();

    /// <summary>The last <paramref name="maxBytes"/> of a failed file's error log (whole lines), or null when it has none.</summary>
    [Alias("ReadErrorLogTail")]
    Task<string?> ReadErrorLogTailAsync(string fileId, int maxBytes);
}

/// <summary>Where a submitted file goes.</summary>
/// <param name="ConfigKey">The config whose inbox takes the file: its key (<c>etl/example_config.toml</c>) or, when only one config has it, its file name.</param>
/// <param name="FileName">The file's name in the inbox (one path segment).</param>
/// <param name="ContentType">Its content type, when known.</param>
[GenerateSerializer, Immutable, Alias("castiron.SubmitRequest")]
public sealed record SubmitRequest(
    [property: Id(0)] string ConfigKey,
    [property: Id(1)] string FileName,
    [property: Id(2)] string? ContentType = null);

/// <summary>A file handed to the cluster.</summary>
/// <param name="FileId">Its id: the uuid its renamed object and status record carry.</param>
/// <param name="Bucket">The bucket.</param>
/// <param name="Key">The inbox key it was written to.</param>
/// <param name="ConfigKey">The config whose inbox took it.</param>
/// <param name="Size">Its size in bytes.</param>
[GenerateSerializer, Immutable, Alias("castiron.SubmittedFile")]
public sealed record SubmittedFile(
    [property: Id(0)] string FileId,
    [property: Id(1)] string Bucket,
    [property: Id(2)] string Key,
    [property: Id(3)] string ConfigKey,
    [property: Id(4)] long Size);

/// <summary>
/// One upload from a client that has no access to the object store: the content arrives in chunks, is spooled on the
/// silo that hosts the upload, and is written into the config's inbox on completion, where its job takes it at once.
/// The client never needs the store's credentials.
/// </summary>
[Alias("castiron.IFileUploadGrain")]
public interface IFileUploadGrain : IGrainWithGuidKey
{
    /// <summary>The largest chunk accepted.</summary>
    public const int MaxChunkBytes = 1024 * 1024;

    /// <summary>Appends the next chunk (at most <see cref="MaxChunkBytes"/>); <paramref name="offset"/> is where it starts, so a repeated call is harmless.</summary>
    [Alias("Append")]
    Task AppendAsync(long offset, byte[] chunk);

    /// <summary>Writes the spooled content into the inbox and hands it to its job.</summary>
    [Alias("Complete")]
    Task<SubmittedFile> CompleteAsync(SubmitRequest request);

    /// <summary>Drops what was spooled.</summary>
    [Alias("Abort")]
    Task AbortAsync();
}
