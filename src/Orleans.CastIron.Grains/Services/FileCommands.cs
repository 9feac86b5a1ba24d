using Orleans.CastIron.Files;
using Orleans.CastIron.Storage;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// Reading and commanding files by id, one way for every caller (the REST API and the client SDK's grain): the job's
/// live state first, the status store for files whose job state is gone.
/// </summary>
public sealed class FileCommands(IGrainFactory grains, IFileStatusStore statusStore)
{
    /// <summary>The live status of a file by id, or <see langword="null"/>.</summary>
    public async Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        if (!FileIds.IsValid(id))
        {
            return null;
        }

        return await grains.GetGrain<IFileJobGrain>(id).GetStatusAsync() ?? await statusStore.GetAsync(id, cancellationToken);
    }

    /// <summary>Files, newest update first.</summary>
    public Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset, CancellationToken cancellationToken = default) =>
        statusStore.QueryAsync(status, limit, offset, cancellationToken);

    public Task<CommandResult> CancelAsync(string id, string? reason = null) =>
        FileIds.IsValid(id) ? grains.GetGrain<IFileJobGrain>(id).CancelAsync(reason) : Task.FromResult(NoSuchFile(id));

    public async Task<CommandResult> RetryAsync(string id, CancellationToken cancellationToken = default)
    {
        if (!FileIds.IsValid(id))
        {
            return NoSuchFile(id);
        }

        // The job's own state first: the status store (ClickHouse) is asked only for files whose job state is gone.
        var job = grains.GetGrain<IFileJobGrain>(id);
        var known = await job.GetStatusAsync() is null ? await statusStore.GetAsync(id, cancellationToken) : null;
        return await job.RetryAsync(known);
    }

    private static CommandResult NoSuchFile(string id) => new(false, $"no file with id '{id}'", null);
}
