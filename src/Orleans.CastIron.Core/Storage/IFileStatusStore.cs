namespace Orleans.CastIron.Storage;

/// <summary>Per-file status tracking (ClickHouse in production; a local index by default).</summary>
public interface IFileStatusStore
{
    /// <summary>Inserts or replaces the record with <see cref="FileStatusRecord.Id"/>; repeating a write is harmless.</summary>
    Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default);

    /// <summary>The record for a file id, or <see langword="null"/>.</summary>
    Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Records, newest update first, optionally only those with <paramref name="status"/>.</summary>
    Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, CancellationToken cancellationToken = default);
}

/// <summary>Publishes job ("pizza tracker") events.</summary>
public interface IJobEventSink
{
    /// <summary>Publishes one event; events of one job keep their order.</summary>
    Task PublishAsync(JobEvent jobEvent, CancellationToken cancellationToken = default);
}
