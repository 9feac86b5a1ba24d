using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Processing;
using Orleans.Placement;

namespace Orleans.CastIron.Grains;

/// <summary>
/// A client's upload, spooled in a folder of the silo it called (named after the silo process, so the job-folder
/// cleanup removes what a killed silo left) and written into the config's inbox on completion. An upload left
/// unfinished is dropped when the grain is deactivated as idle.
/// </summary>
[PreferLocalPlacement]
public sealed partial class FileUploadGrain(
    IObjectStore store,
    ConfigSnapshotCache snapshots,
    IntakeService intake,
    ProcessorExecutor executor,
    IOptions<CastIronOptions> options,
    ILogger<FileUploadGrain> logger) : Grain, IFileUploadGrain
{
    private string? _folder;
    private long _length;

    private string Content => Path.Combine(_folder ??= CreateFolder(), "content");

    public async Task AppendAsync(long offset, byte[] chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (chunk.Length > IFileUploadGrain.MaxChunkBytes)
        {
            throw new ArgumentException($"a chunk is limited to {IFileUploadGrain.MaxChunkBytes} bytes, not {chunk.Length}", nameof(chunk));
        }

        if (offset + chunk.Length <= _length)
        {
            return; // Sent again (the client retried after a lost answer): already here.
        }

        if (offset != _length)
        {
            throw new ArgumentException($"the upload has {_length} bytes; a chunk at {offset} would leave a gap or overlap", nameof(offset));
        }

        await using (var file = new FileStream(Content, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
        {
            await file.WriteAsync(chunk);
        }

        _length += chunk.Length;
    }

    public async Task<SubmittedFile> CompleteAsync(SubmitRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await snapshots.RefreshAsync();
        var snapshot = snapshots.Current;
        var processor = FindConfig(snapshot, request.ConfigKey);
        if (string.IsNullOrEmpty(request.FileName) || request.FileName.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"the file name '{request.FileName}' must be one non-empty path segment", nameof(request));
        }

        var key = ObjectKeys.Combine(processor.Paths.InboxFolder, request.FileName);
        if (ObjectKeys.ValidateRenamable(key) is { } problem)
        {
            throw new ArgumentException($"'{request.FileName}' cannot be submitted: {problem}", nameof(request));
        }

        // Refused here, not left in the inbox: a file its config does not take would wait there unprocessed.
        if (snapshot.Match(key, request.ContentType, options.Value.MatchContentType)?.ConfigKey != processor.ConfigKey)
        {
            throw new ArgumentException($"'{request.FileName}' is not a file config '{processor.ConfigKey}' takes (handled_file_glob '{processor.Config.HandledFileGlob}')", nameof(request));
        }

        var bucket = options.Value.Bucket;
        ObjectInfo written;
        await using (var content = _length == 0 ? (Stream)new MemoryStream() : new FileStream(Content, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
        {
            written = await store.WriteAsync(bucket, key, content, ImmutableDictionary<string, string>.Empty, request.ContentType);
        }

        var fileId = FileIds.For(bucket, key, written.ETag, written.Metadata);
        LogSubmitted(key, fileId, _length);
        // Handed to its job now rather than at the store's notification; while intake is paused it waits in the inbox
        // like any drop and is taken when intake resumes.
        if (!intake.IsPaused)
        {
            await intake.RouteAsync(written.ToCreatedEvent(bucket), CancellationToken.None);
        }

        var submitted = new SubmittedFile(fileId, bucket, key, processor.ConfigKey, _length);
        Clear();
        DeactivateOnIdle();
        return submitted;
    }

    public Task AbortAsync()
    {
        Clear();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Clear();
        return Task.CompletedTask;
    }

    /// <summary>The config by key, or by file name when exactly one registered config has it.</summary>
    private static Matching.RegisteredProcessor FindConfig(ConfigSnapshot snapshot, string configKey)
    {
        var processors = snapshot.Processors;
        if (processors.FirstOrDefault(p => p.ConfigKey == configKey) is { } exact)
        {
            return exact;
        }

        var byName = processors.Where(p => ObjectKeys.Leaf(p.ConfigKey) == configKey).ToList();
        return byName.Count switch
        {
            1 => byName[0],
            0 => throw new ArgumentException(processors.IsEmpty
                ? $"no config '{configKey}' is registered: the bucket has no registered configs"
                : $"no config '{configKey}' is registered; registered: {string.Join(", ", processors.Select(p => p.ConfigKey).Order(StringComparer.Ordinal))}"),
            _ => throw new ArgumentException($"'{configKey}' names several configs ({string.Join(", ", byName.Select(p => p.ConfigKey))}): give its whole key"),
        };
    }

    private string CreateFolder()
    {
        var folder = Path.Combine(executor.WorkRoot, $"p{Environment.ProcessId}-upload-{this.GetPrimaryKey():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    private void Clear()
    {
        if (_folder is not null)
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }

            _folder = null;
        }

        _length = 0;
    }

    [LoggerMessage(1, LogLevel.Information, "Submitted '{ObjectKey}' ({Bytes} bytes) as file {FileId}")]
    private partial void LogSubmitted(string objectKey, string fileId, long bytes);
}
