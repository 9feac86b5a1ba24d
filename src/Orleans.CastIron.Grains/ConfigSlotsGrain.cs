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
    private DateTimeOffset _activated;
    private DateTimeOffset _knownFrom;
    private int _limit = 1;
    private IGrainTimer? _tick;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Alone in the cluster, nobody else can hold anything; otherwise the other silos' holdings are known once each
        // has renewed (a lost activation's successor must not grant what they still hold). A silo shutting down still
        // runs its attempts: every silo not dead counts.
        var alive = membership.CurrentSnapshot.Members.Values.Count(m => m.Status is not (SiloStatus.Dead or SiloStatus.None));
        _activated = time.GetUtcNow();
        _knownFrom = _activated + (alive > 1 ? RenewInterval * 1.5 : TimeSpan.Zero);
        return Task.CompletedTask;
    }

    public async Task<bool> AcquireAsync(SiloAddress silo, string holder, int limit, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limit = limit;
        var now = time.GetUtcNow();
        if (_holdings.TryGetValue(holder, out var held) && held.Silo.Equals(silo))
        {
            _holdings[holder] = held with { Expires = now + Lease };
            return true;
        }

        var waiter = new Waiter(silo, holder, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
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

    public Task ReleaseAsync(string holder)
    {
        if (_holdings.Remove(holder))
        {
            Serve();
        }

        return Task.CompletedTask;
    }

    public Task RenewAsync(SiloAddress silo, ImmutableArray<string> holders)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var now = time.GetUtcNow();
        var listed = new HashSet<string>(holders.IsDefault ? [] : holders, StringComparer.Ordinal);
        foreach (var (holder, holding) in _holdings.ToList())
        {
            if (!holding.Silo.Equals(silo))
            {
                continue;
            }

            if (listed.Contains(holder))
            {
                _holdings[holder] = holding with { Expires = now + Lease };
            }
            else if (holding.Granted + Lease / 2 < now)
            {
                // Not listed, and granted long enough ago that the silo knew of it: its release was lost.
                _holdings.Remove(holder);
            }
        }

        if (now < _activated + Lease)
        {
            // Held there but unknown here, in this activation's first moments: what the lost one granted, counted again.
            // Later, a listed holding unknown here was released after the silo listed it.
            foreach (var holder in listed.Where(id => !_holdings.ContainsKey(id)))
            {
                _holdings[holder] = new Holding(silo, now, now + Lease);
            }
        }

        Serve();
        return Task.CompletedTask;
    }

    /// <summary>Grants slots to the waiters in order while any are free.</summary>
    private void Serve()
    {
        var now = time.GetUtcNow();
        foreach (var (holder, holding) in _holdings.ToList())
        {
            if (holding.Expires < now || membership.CurrentSnapshot.GetSiloStatus(holding.Silo) == SiloStatus.Dead)
            {
                _holdings.Remove(holder);
            }
        }

        while (now >= _knownFrom && _holdings.Count < _limit && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            if (first.Value.Granted.TrySetResult(true))
            {
                _holdings[first.Value.Holder] = new Holding(first.Value.Silo, now, now + Lease);
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

    private sealed record Waiter(SiloAddress Silo, string Holder, TaskCompletionSource<bool> Granted);
}
