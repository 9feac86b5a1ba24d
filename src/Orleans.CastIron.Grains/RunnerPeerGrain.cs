using Orleans.CastIron.Grains.Services;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>
/// A silo's runner, reachable from the other silos (key = the silo's address; the caller places it there with a
/// placement hint): a silo with free slots and nothing waiting asks the others for waiting jobs.
/// </summary>
internal interface IRunnerPeerGrain : IGrainWithStringKey
{
    /// <summary>
    /// Hands up to <paramref name="max"/> jobs waiting here to <paramref name="thief"/>: they move there and ask for a
    /// slot there. Returns how many were handed over.
    /// </summary>
    [Alias("Give")]
    Task<int> GiveWaitingAsync(SiloAddress thief, int max);
}

/// <inheritdoc cref="IRunnerPeerGrain"/>
internal sealed class RunnerPeerGrain(JobRunner runner, ILocalSiloDetails silo) : Grain, IRunnerPeerGrain
{
    public Task<int> GiveWaitingAsync(SiloAddress thief, int max)
    {
        if (this.GetPrimaryKeyString() != silo.SiloAddress.ToParsableString())
        {
            // Placed elsewhere (its silo was not there to take it): it speaks for no runner.
            DeactivateOnIdle();
            return Task.FromResult(0);
        }

        return Task.FromResult(runner.GiveWaiting(thief, max));
    }
}
