namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// The embedded job timers: one empty file per timer, named after the file id, whose modification time is the due
/// time, and an in-memory index ordered by due time loaded at start. Moving a timer only stamps its file (creating
/// files is what costs most on a busy ext4 folder: its inode allocator skips recently deleted inodes), and a stamp
/// is atomic, so there is no temporary file. Its size is the number of jobs in flight outside an inbox or final within
/// retention, never the number of files ever seen.
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
                // Not a timer (a temporary file of an older version, or a stray file).
                File.Delete(file);
                continue;
            }

            Index(id, new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero));
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

    public Task SetAsync(string fileId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var path = PathOf(fileId);
        var due = at.UtcDateTime;
        // The stamp and the index change together, so a concurrent conditional remove sees both or neither.
        lock (_lock)
        {
            try
            {
                Stamp(path, due);
            }
            catch (DirectoryNotFoundException)
            {
                // The folder was deleted while running: recreate it.
                Directory.CreateDirectory(_folder);
                Stamp(path, due);
            }

            Index(fileId, at);
        }

        return Task.CompletedTask;
    }

    private static void Stamp(string path, DateTime due)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, due);
        }
        catch (FileNotFoundException)
        {
            File.Create(path).Dispose();
            File.SetLastWriteTimeUtc(path, due);
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

    public Task<IReadOnlyList<JobTimer>> ClaimDueAsync(DateTimeOffset now, int limit, DateTimeOffset claimUntil, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var due = _byTime.TakeWhile(t => t.At <= now).Take(limit).Select(t => t.FileId).ToList();
            foreach (var fileId in due)
            {
                Stamp(PathOf(fileId), claimUntil.UtcDateTime);
                Index(fileId, claimUntil);
            }

            return Task.FromResult<IReadOnlyList<JobTimer>>([.. due.Select(id => new JobTimer(id, claimUntil))]);
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
