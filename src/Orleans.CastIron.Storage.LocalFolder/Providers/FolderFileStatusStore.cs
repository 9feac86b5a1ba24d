using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// The embedded status index: one JSON file per file id (written to a temporary file and renamed). Only an index is
/// kept in memory (id, status, last update: tens of bytes per file, ordered per status), so a query reads just the
/// records it returns and counts need no scan. Writes of different files never wait for each other (one file's
/// writes are serial: its job makes them). Serves one silo; production uses ClickHouse.
/// </summary>
public sealed class FolderFileStatusStore : IFileStatusStore
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly string _folder;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (FileStatus Status, DateTimeOffset UpdatedAt)> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<FileStatus, SortedSet<(DateTimeOffset UpdatedAt, string Id)>> _byStatus =
        Enum.GetValues<FileStatus>().ToDictionary(s => s, _ => new SortedSet<(DateTimeOffset, string)>());
    private readonly SortedSet<(DateTimeOffset UpdatedAt, string Id)> _all = [];
    private readonly SemaphoreSlim[] _stripes = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];

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
                    Index(record);
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

        var gate = _stripes[(uint)StringComparer.Ordinal.GetHashCode(record.Id) % (uint)_stripes.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
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
            Index(record);
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_records.ContainsKey(id))
            {
                return null;
            }
        }

        return await ReadAsync(id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset = 0, CancellationToken cancellationToken = default)
    {
        List<string> ids;
        lock (_lock)
        {
            var index = status is { } s ? _byStatus[s] : _all;
            ids = [.. index.Reverse().Skip(Math.Max(0, offset)).Take(limit).Select(e => e.Id)];
        }

        var records = new List<FileStatusRecord>(ids.Count);
        foreach (var id in ids)
        {
            // A record replaced meanwhile is read as it is now; one deleted from outside is left out.
            if (await ReadAsync(id, cancellationToken).ConfigureAwait(false) is { } record && (status is null || record.Status == status))
            {
                records.Add(record);
            }
        }

        return records;
    }

    private async Task<FileStatusRecord?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            return JsonSerializer.Deserialize<FileStatusRecord>(await File.ReadAllBytesAsync(Path.Combine(_folder, id + ".json"), cancellationToken).ConfigureAwait(false), Json);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyDictionary<FileStatus, int>>(_byStatus.ToDictionary(kv => kv.Key, kv => kv.Value.Count));
        }
    }

    private void Index(FileStatusRecord record)
    {
        lock (_lock)
        {
            if (_records.TryGetValue(record.Id, out var old))
            {
                _byStatus[old.Status].Remove((old.UpdatedAt, record.Id));
                _all.Remove((old.UpdatedAt, record.Id));
            }

            _records[record.Id] = (record.Status, record.UpdatedAt);
            _byStatus[record.Status].Add((record.UpdatedAt, record.Id));
            _all.Add((record.UpdatedAt, record.Id));
        }
    }
}
