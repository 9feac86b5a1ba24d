using Orleans.Concurrency;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>A config's slots across the cluster, in memory: holdings are leases the silos' runners renew.</summary>
[Reentrant]
internal sealed class ConfigSlotsGrain(IClusterMembershipService membership, TimeProvider time, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : Grain, IConfigSlotsGrain
{
    /// <summary>How often a runner renews what it holds.</summary>
    public static readonly TimeSpan RenewInterval = TimeSpan.FromSeconds(2);

    /// <summary>How long a holding lasts without renewal.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(20);

    private readonly Dictionary<string, Holding> _holdings = new(StringComparer.Ordinal);
    private readonly LinkedList<Waiter> _waiters = new();
    private DateTimeOffset _knownFrom;
    private int _limit = 1;
    private IGrainTimer? _tick;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Alone in the cluster, nobody else can hold anything; otherwise the other silos' holdings are known once each
        // has renewed (a lost activation's successor must not grant what they still hold).
        var active = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        _knownFrom = time.GetUtcNow() + (active > 1 ? RenewInterval * 1.5 : TimeSpan.Zero);
        return Task.CompletedTask;
    }

    public async Task<bool> AcquireAsync(SiloAddress silo, string jobId, int limit, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limit = limit;
        var now = time.GetUtcNow();
        if (_holdings.TryGetValue(jobId, out var held) && held.Silo.Equals(silo))
        {
            _holdings[jobId] = held with { Expires = now + Lease };
            return true;
        }

        var waiter = new Waiter(silo, jobId, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        var node = _waiters.AddLast(waiter);
        Serve();
        if (!waiter.Granted.Task.IsCompleted && wait > TimeSpan.Zero)
        {
            // Woken by the ticks too: the warm-up's end and lapsed leases free slots without any call.
            _tick ??= this.RegisterGrainTimer(() => { Serve(); return Task.CompletedTask; }, new GrainTimerCreationOptions(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500)) { Interleave = true });
            await ((Task)waiter.Granted.Task.WaitAsync(wait < MaxWait ? wait : MaxWait, time, lifetime.ApplicationStopping)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        if (waiter.Granted.Task is { IsCompletedSuccessfully: true, Result: true })
        {
            return true;
        }

        // Gave up: out of the line, and nothing granted to it afterwards.
        if (node.List is not null)
        {
            _waiters.Remove(node);
        }

        waiter.Granted.TrySetResult(false);
        StopTickingWhenIdle();
        return false;
    }

    public Task ReleaseAsync(string jobId)
    {
        if (_holdings.Remove(jobId))
        {
            Serve();
        }

        return Task.CompletedTask;
    }

    public Task RenewAsync(SiloAddress silo, ImmutableArray<string> jobIds)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var now = time.GetUtcNow();
        var listed = new HashSet<string>(jobIds.IsDefault ? [] : jobIds, StringComparer.Ordinal);
        foreach (var (jobId, holding) in _holdings.ToList())
        {
            if (!holding.Silo.Equals(silo))
            {
                continue;
            }

            if (listed.Contains(jobId))
            {
                _holdings[jobId] = holding with { Expires = now + Lease };
            }
            else if (holding.Granted + RenewInterval < now)
            {
                _holdings.Remove(jobId);
            }
        }

        // Held there but unknown here (this activation is new): counted again.
        foreach (var jobId in listed.Where(id => !_holdings.ContainsKey(id)))
        {
            _holdings[jobId] = new Holding(silo, now, now + Lease);
        }

        Serve();
        return Task.CompletedTask;
    }

    /// <summary>Grants slots to the waiters in order while any are free.</summary>
    private void Serve()
    {
        var now = time.GetUtcNow();
        foreach (var (jobId, holding) in _holdings.ToList())
        {
            if (holding.Expires < now || membership.CurrentSnapshot.GetSiloStatus(holding.Silo) == SiloStatus.Dead)
            {
                _holdings.Remove(jobId);
            }
        }

        while (now >= _knownFrom && _holdings.Count < _limit && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            if (first.Value.Granted.TrySetResult(true))
            {
                _holdings[first.Value.JobId] = new Holding(first.Value.Silo, now, now + Lease);
            }
        }

        StopTickingWhenIdle();
    }

    private void StopTickingWhenIdle()
    {
        if (_waiters.Count == 0 && _tick is not null)
        {
            _tick.Dispose();
            _tick = null;
        }
    }

    private sealed record Holding(SiloAddress Silo, DateTimeOffset Granted, DateTimeOffset Expires);

    private sealed record Waiter(SiloAddress Silo, string JobId, TaskCompletionSource<bool> Granted);
}
