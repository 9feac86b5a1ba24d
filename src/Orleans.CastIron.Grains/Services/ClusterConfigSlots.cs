using Orleans.Runtime;

namespace Orleans.CastIron.Grains.Services;

/// <summary>
/// This silo's side of <see cref="IConfigSlotsGrain"/>: acquires a config's cluster-wide slot before the runner starts
/// one of its files, gives it back when the attempt ends, and renews what it holds every
/// <see cref="ConfigSlotsGrain.RenewInterval"/> (which also clears a holding whose release or grant answer was lost).
/// </summary>
public sealed partial class ClusterConfigSlots(IGrainFactory grains, ILocalSiloDetails silo, ILogger<ClusterConfigSlots> logger)
{
    // Short enough that a lane whose first file was canceled meanwhile moves on soon.
    private static readonly TimeSpan LongPoll = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<string>> _held = new(StringComparer.Ordinal);

    /// <summary>
    /// Waits for a slot of <paramref name="configKey"/> for <paramref name="holder"/> (one request of a job) while
    /// <paramref name="wanted"/> says the job still wants it; true when held (then <see cref="Release"/> it).
    /// </summary>
    public async Task<bool> AcquireAsync(string configKey, string holder, int limit, Func<bool> wanted, CancellationToken cancellationToken)
    {
        var grain = grains.GetGrain<IConfigSlotsGrain>(configKey);
        try
        {
            while (wanted() && !cancellationToken.IsCancellationRequested)
            {
                var asked = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    if (await grain.AcquireAsync(silo.SiloAddress, holder, limit, LongPoll).WaitAsync(cancellationToken).ConfigureAwait(false))
                    {
                        lock (_lock)
                        {
                            Held(configKey).Add(holder);
                        }

                        return true;
                    }

                    if (asked.Elapsed < RetryDelay)
                    {
                        // Answered at once (its silo is stopping): not a tight loop of calls.
                        await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    }
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    LogAcquireFailed(ex, configKey, holder, RetryDelay);
                    await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        // A grant whose answer was lost is not listed at the next renewal, which drops it.
        return false;
    }

    /// <summary>Gives the slot back (best effort: a lost release is cleared by the next renewal).</summary>
    public void Release(string configKey, string holder)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(configKey, out var held) || !held.Remove(holder))
            {
                return;
            }
        }

        _ = ReleaseAsync(configKey, holder);
    }

    private async Task ReleaseAsync(string configKey, string holder)
    {
        try
        {
            await grains.GetGrain<IConfigSlotsGrain>(configKey).ReleaseAsync(holder).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogReleaseFailed(ex, configKey, holder);
        }
    }

    /// <summary>Renews what this silo holds, config by config, until <paramref name="stopping"/>.</summary>
    public async Task RenewAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ConfigSlotsGrain.RenewInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                List<(string ConfigKey, ImmutableArray<string> Holders)> renewals;
                lock (_lock)
                {
                    renewals = [.. _held.Select(kv => (kv.Key, kv.Value.ToImmutableArray()))];
                    // Renewed empty once (its last holding released), then forgotten.
                    foreach (var empty in _held.Where(kv => kv.Value.Count == 0).Select(kv => kv.Key).ToList())
                    {
                        _held.Remove(empty);
                    }
                }

                // Side by side, each within a renewal period: one config's grain not answering delays no other's.
                await Task.WhenAll(renewals.Select(async renewal =>
                {
                    try
                    {
                        await grains.GetGrain<IConfigSlotsGrain>(renewal.ConfigKey).RenewAsync(silo.SiloAddress, renewal.Holders).WaitAsync(ConfigSlotsGrain.RenewInterval, stopping).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (!stopping.IsCancellationRequested)
                    {
                        LogRenewFailed(ex, renewal.ConfigKey);
                    }
                })).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private HashSet<string> Held(string configKey) =>
        _held.TryGetValue(configKey, out var held) ? held : _held[configKey] = new HashSet<string>(StringComparer.Ordinal);

    [LoggerMessage(1, LogLevel.Warning, "Acquiring a slot of config {ConfigKey} for {Holder} failed; retrying in {Delay}")]
    private partial void LogAcquireFailed(Exception exception, string configKey, string holder, TimeSpan delay);

    [LoggerMessage(2, LogLevel.Warning, "Releasing the slot of config {ConfigKey} held by {Holder} failed; the next renewal clears it")]
    private partial void LogReleaseFailed(Exception exception, string configKey, string holder);

    [LoggerMessage(3, LogLevel.Warning, "Renewing the slots of config {ConfigKey} this silo holds failed; they lapse unless a renewal gets through")]
    private partial void LogRenewFailed(Exception exception, string configKey);
}
