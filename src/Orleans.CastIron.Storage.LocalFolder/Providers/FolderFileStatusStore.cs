using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// The embedded status index: one JSON file per file id (atomic replace), loaded into memory at start so queries by
/// status need no scan. Serves one silo; production uses ClickHouse.
/// </summary>
public sealed class FolderFileStatusStore : IFileStatusStore
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly string _folder;
    private readonly Dictionary<string, FileStatusRecord> _records = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public FolderFileStatusStore(string folder)
    {
        _folder = folder;
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.EnumerateFiles(folder, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<FileStatusRecord>(File.ReadAllBytes(file), Json) is { Id.Length: > 0 } record)
                {
                    _records[record.Id] = record;
                }
            }
            catch (JsonException)
            {
                // A damaged index entry is rebuilt the next time its FileJob records a transition.
            }
        }
    }

    public async Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Id.Length == 0 || record.Id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            throw new ArgumentException($"file id '{record.Id}' is not a uuid-like id", nameof(record));
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var path = Path.Combine(_folder, record.Id + ".json");
            var temp = path + ".tmp";
            var bytes = JsonSerializer.SerializeToUtf8Bytes(record, Json);
            try
            {
                await File.WriteAllBytesAsync(temp, bytes, cancellationToken).ConfigureAwait(false);
            }
            catch (DirectoryNotFoundException)
            {
                // The index folder was deleted while running: recreate it (the records come back as jobs write them).
                Directory.CreateDirectory(_folder);
                await File.WriteAllBytesAsync(temp, bytes, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, path, overwrite: true);
            _records[record.Id] = record;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _records.GetValueOrDefault(id);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return [.. _records.Values
                .Where(r => status is null || r.Status == status)
                .OrderByDescending(r => r.UpdatedAt)
                .Take(limit)];
        }
        finally
        {
            _gate.Release();
        }
    }
}
