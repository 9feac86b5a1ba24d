using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.CastIron.Files;
using Orleans.CastIron.Storage;
using StackExchange.Redis;

namespace Orleans.CastIron.Redis.Providers;

/// <summary>
/// File status shared by every silo of a cluster that has no ClickHouse: each record as JSON in one hash, and sorted
/// sets by last update (all files, and one per status) for newest-first pages and counts without a scan. A write
/// changes the record and its index entries in one script, so a reader on any silo never sees them disagree.
/// </summary>
public sealed class RedisFileStatusStore(IConnectionMultiplexer redis, string keyPrefix) : IFileStatusStore
{
    // KEYS: records hash, all-files set, the new status's set. ARGV: id, json, status, score, prefix of status sets.
    private const string UpsertScript = """
        local old = redis.call('HGET', KEYS[1], ARGV[1])
        if old then
          local oldStatus = cjson.decode(old)['status']
          if oldStatus ~= ARGV[3] then redis.call('ZREM', ARGV[5] .. oldStatus, ARGV[1]) end
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
        redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
        return 1
        """;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    // One hash tag, so every key of a service lands on one Redis Cluster slot (the script touches several).
    private readonly string _prefix = $"{{{keyPrefix}}}:status";

    private IDatabase Database => redis.GetDatabase();

    private RedisKey Records => $"{_prefix}:records";

    private RedisKey All => $"{_prefix}:all";

    private string ByStatusPrefix => $"{_prefix}:by:";

    private RedisKey ByStatus(FileStatus status) => ByStatusPrefix + status;

    public Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.Id);
        var json = JsonSerializer.Serialize(record, Json);
        return Database.ScriptEvaluateAsync(UpsertScript, [Records, All, ByStatus(record.Status)],
            [record.Id, json, record.Status.ToString(), record.UpdatedAt.ToUnixTimeMilliseconds(), ByStatusPrefix]);
    }

    public async Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var json = await Database.HashGetAsync(Records, id).ConfigureAwait(false);
        return json.IsNullOrEmpty ? null : JsonSerializer.Deserialize<FileStatusRecord>((string)json!, Json);
    }

    public async Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset = 0, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
        {
            return [];
        }

        var ids = await Database.SortedSetRangeByRankAsync(status is { } s ? ByStatus(s) : All, Math.Max(0, offset), Math.Max(0, offset) + limit - 1, Order.Descending).ConfigureAwait(false);
        if (ids.Length == 0)
        {
            return [];
        }

        var values = await Database.HashGetAsync(Records, ids).ConfigureAwait(false);
        return [.. values.Where(v => !v.IsNullOrEmpty).Select(v => JsonSerializer.Deserialize<FileStatusRecord>((string)v!, Json)!)
            .Where(r => status is null || r.Status == status)];
    }

    public async Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default)
    {
        var statuses = Enum.GetValues<FileStatus>();
        var batch = Database.CreateBatch();
        var counts = statuses.Select(s => batch.SortedSetLengthAsync(ByStatus(s))).ToArray();
        batch.Execute();
        await Task.WhenAll(counts).ConfigureAwait(false);
        return statuses.Select((s, i) => (s, (int)counts[i].Result)).ToDictionary(p => p.s, p => p.Item2);
    }
}
