using System.Globalization;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// The embedded job timers: one tiny file per timer (name = file id, content = due time), written to a temporary
/// file and renamed, and an in-memory index ordered by due time loaded at start. Its size is the number of jobs that
/// are in flight outside an inbox or final within retention, never the number of files ever seen.
/// </summary>
public sealed class FolderJobTimerStore : IJobTimerStore
{
    private readonly string _folder;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _byId = new(StringComparer.Ordinal);
    private readonly SortedSet<(DateTimeOffset At, string FileId)> _byTime = [];

    public FolderJobTimerStore(string folder)
    {
        _folder = folder;
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var id = Path.GetFileName(file);
            if (!FileIds.IsValid(id))
            {
                // A temporary file of a write interrupted by a crash.
                File.Delete(file);
                continue;
            }

            if (long.TryParse(File.ReadAllText(file), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
            {
                Index(id, new DateTimeOffset(ticks, TimeSpan.Zero));
            }
        }
    }

    /// <summary>How many timers are set.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byId.Count;
            }
        }
    }

    public async Task SetAsync(string fileId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var path = PathOf(fileId);
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        var text = at.UtcTicks.ToString(CultureInfo.InvariantCulture);
        try
        {
            await File.WriteAllTextAsync(temp, text, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryNotFoundException)
        {
            // The folder was deleted while running: recreate it.
            Directory.CreateDirectory(_folder);
            await File.WriteAllTextAsync(temp, text, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temp, path, overwrite: true);
        lock (_lock)
        {
            Index(fileId, at);
        }
    }

    public Task RemoveAsync(string fileId, DateTimeOffset? onlyIfAt = null, CancellationToken cancellationToken = default)
    {
        var path = PathOf(fileId);
        lock (_lock)
        {
            if (!_byId.TryGetValue(fileId, out var current) || (onlyIfAt is { } at && at != current))
            {
                return Task.CompletedTask;
            }

            try
            {
                File.Delete(path);
            }
            catch (DirectoryNotFoundException)
            {
                // The folder was deleted from outside: nothing left to delete.
            }

            _byId.Remove(fileId);
            _byTime.Remove((current, fileId));
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<JobTimer>> DueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<JobTimer>>([.. _byTime.TakeWhile(t => t.At <= now).Take(limit).Select(t => new JobTimer(t.FileId, t.At))]);
        }
    }

    public Task<IReadOnlyList<JobTimer>> PageAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<JobTimer>>([.. _byId
                .Where(kv => after is null || string.CompareOrdinal(kv.Key, after) > 0)
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Take(limit)
                .Select(kv => new JobTimer(kv.Key, kv.Value))]);
        }
    }

    private void Index(string fileId, DateTimeOffset at)
    {
        if (_byId.TryGetValue(fileId, out var old))
        {
            _byTime.Remove((old, fileId));
        }

        _byId[fileId] = at;
        _byTime.Add((at, fileId));
    }

    private string PathOf(string fileId) =>
        FileIds.IsValid(fileId) ? Path.Combine(_folder, fileId) : throw new ArgumentException($"'{fileId}' is not a file id", nameof(fileId));
}
