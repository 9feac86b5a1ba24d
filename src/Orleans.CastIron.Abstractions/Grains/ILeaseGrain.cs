namespace Orleans.CastIron.Grains;

/// <summary>
/// Picks one silo of the cluster for a periodic task (key = the task's name, e.g. <c>reconcile/etl</c>): a single
/// activation arbitrates, so two silos never hold the same lease. A holder that stops renewing (its silo died) loses
/// the lease when it expires; a lost activation simply starts empty and the next asker takes it.
/// </summary>
public interface ILeaseGrain : IGrainWithStringKey
{
    /// <summary>Takes or renews the lease for <paramref name="holder"/>; false while another holder's lease is valid.</summary>
    /// <param name="duration">How long the lease lasts without renewal (a few of the task's intervals).</param>
    Task<bool> TryAcquireAsync(string holder, TimeSpan duration);
}
