using Orleans.Concurrency;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>
/// A config's <c>max_concurrency</c> across the cluster (key = the config key): each silo's runner holds one of the
/// config's slots here for every file of it that it runs, so a limit of 1 means one file at a time in the whole
/// cluster, not one per silo. Holdings are leases the runners renew; those of a dead silo or one that stopped
/// renewing lapse. A new activation (the last one was lost with its silo) grants nothing until the live silos have
/// renewed what they hold.
/// </summary>
public interface IConfigSlotsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Holds a slot for <paramref name="holder"/> (one slot request of a job) on <paramref name="silo"/> when fewer than
    /// <paramref name="limit"/> are held, waiting up to <paramref name="wait"/> (at most 20 s; waiters are served in
    /// order); false when none came. Asking again for a holder that holds one is true at once.
    /// </summary>
    [Alias("Acquire"), AlwaysInterleave]
    Task<bool> AcquireAsync(SiloAddress silo, string holder, int limit, TimeSpan wait);

    /// <summary>Gives back <paramref name="holder"/>'s slot (its attempt ended, or it was not started).</summary>
    [Alias("Release")]
    Task ReleaseAsync(string holder);

    /// <summary>
    /// What <paramref name="silo"/> holds: renews these, and drops its other holdings (a release that was lost), except
    /// those granted in the last moments, whose answer may still be on its way.
    /// </summary>
    [Alias("Renew")]
    Task RenewAsync(SiloAddress silo, ImmutableArray<string> holders);
}
