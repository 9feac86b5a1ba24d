namespace Orleans.CastIron.Storage;

/// <summary>Per-file status tracking (ClickHouse in production; a local index by default).</summary>
public interface IFileStatusStore
{
    /// <summary>Inserts or replaces the record with <see cref="FileStatusRecord.Id"/>; repeating a write is harmless.</summary>
    Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default);

    /// <summary>The record for a file id, or <see langword="null"/>.</summary>
    Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Records, newest update first, optionally only those with <paramref name="status"/>: a page of <paramref name="limit"/> after skipping <paramref name="offset"/>.</summary>
    Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset = 0, CancellationToken cancellationToken = default);

    /// <summary>How many files are in each status.</summary>
    Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default);
}

/// <summary>Publishes job ("pizza tracker") events.</summary>
public interface IJobEventSink
{
    /// <summary>Publishes one event; events of one job keep their order.</summary>
    Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default);
}

/// <summary>
/// One durable one-shot timer per file job (its "wake"): what brings an in-flight job back after a crash, a retry
/// when it is due, and a final job's retention end, without sweeping status records. A Redis sorted set is the
/// production shape; the embedded default keeps one small file per timer. Each timer fires on one silo of the
/// cluster at a time.
/// </summary>
public interface IJobTimerStore
{
    /// <summary>Sets (or moves) the timer of <paramref name="fileId"/> to <paramref name="at"/>.</summary>
    Task SetAsync(string fileId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Removes the timer of <paramref name="fileId"/>; with <paramref name="onlyIfAt"/>, only if it is still set to that time (a job that set a new one keeps it).</summary>
    Task RemoveAsync(string fileId, DateTimeOffset? onlyIfAt = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims up to <paramref name="limit"/> timers due at <paramref name="now"/>, earliest first: each is moved to
    /// <paramref name="claimUntil"/> in the same step, so the silos of a cluster never fire one timer together, and a
    /// silo that dies holding a claim lets it fire again at that time. The timers are returned at their new time.
    /// </summary>
    Task<IReadOnlyList<JobTimer>> ClaimDueAsync(DateTimeOffset now, int limit, DateTimeOffset claimUntil, CancellationToken cancellationToken = default);

    /// <summary>Every timer, a page at a time, in file-id order after <paramref name="after"/> (silo start wakes them all).</summary>
    Task<IReadOnlyList<JobTimer>> PageAsync(string? after, int limit, CancellationToken cancellationToken = default);
}

/// <summary>A job's timer.</summary>
/// <param name="FileId">The file id (the FileJob grain key).</param>
/// <param name="At">When it fires.</param>
public sealed record JobTimer(string FileId, DateTimeOffset At);
