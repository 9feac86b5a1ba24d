using System.Globalization;
using Orleans.CastIron.Storage;
using StackExchange.Redis;

namespace Orleans.CastIron.Redis.Providers;

/// <summary>
/// The jobs' durable timers in Redis, shared by every silo of the cluster: a sorted set by due time (milliseconds since
/// the epoch) for the pump, and a sorted set of the same file ids with equal scores for paging in file-id order. Both
/// change together in one script, so they never disagree.
/// </summary>
public sealed class RedisJobTimerStore(IConnectionMultiplexer redis, string keyPrefix) : IJobTimerStore
{
    private const string SetScript = """
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('ZADD', KEYS[2], 0, ARGV[1])
        return 1
        """;

    // onlyIfAt: removed only while the timer still has that time (a job that set a new one keeps it).
    private const string RemoveScript = """
        if ARGV[2] ~= '' then
          local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
          if (not at) or tonumber(at) ~= tonumber(ARGV[2]) then return 0 end
        end
        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return 1
        """;

    // Due timers are moved to the claim's end in the same script that reads them: one silo fires each.
    private const string ClaimScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        for _, id in ipairs(due) do
          redis.call('ZADD', KEYS[1], ARGV[3], id)
        end
        return due
        """;

    private readonly RedisKey _byTime = $"{keyPrefix}:timers:by-time";
    private readonly RedisKey _byId = $"{keyPrefix}:timers:by-id";

    private IDatabase Database => redis.GetDatabase();

    public Task SetAsync(string fileId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileId);
        return Database.ScriptEvaluateAsync(SetScript, [_byTime, _byId], [fileId, at.ToUnixTimeMilliseconds()]);
    }

    public Task RemoveAsync(string fileId, DateTimeOffset? onlyIfAt = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileId);
        var at = onlyIfAt is { } time ? time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : "";
        return Database.ScriptEvaluateAsync(RemoveScript, [_byTime, _byId], [fileId, at]);
    }

    public async Task<IReadOnlyList<JobTimer>> ClaimDueAsync(DateTimeOffset now, int limit, DateTimeOffset claimUntil, CancellationToken cancellationToken = default)
    {
        var claimed = (RedisResult[]?)await Database.ScriptEvaluateAsync(ClaimScript, [_byTime], [now.ToUnixTimeMilliseconds(), limit, claimUntil.ToUnixTimeMilliseconds()]).ConfigureAwait(false) ?? [];
        var at = DateTimeOffset.FromUnixTimeMilliseconds(claimUntil.ToUnixTimeMilliseconds());
        return [.. claimed.Select(id => new JobTimer((string)id!, at))];
    }

    public async Task<IReadOnlyList<JobTimer>> PageAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        // By file id: the lexicographic range of the equal-score set, starting after the last id of the previous page.
        var ids = await Database.SortedSetRangeByValueAsync(_byId, after is null ? default : after, default, after is null ? Exclude.None : Exclude.Start, Order.Ascending, 0, limit).ConfigureAwait(false);
        if (ids.Length == 0)
        {
            return [];
        }

        var scores = await Database.SortedSetScoresAsync(_byTime, ids).ConfigureAwait(false);
        var page = new List<JobTimer>(ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            // A timer removed between the two reads is simply not on the page.
            if (scores[i] is { } score)
            {
                page.Add(new JobTimer(ids[i]!, DateTimeOffset.FromUnixTimeMilliseconds((long)score)));
            }
        }

        return page;
    }
}
