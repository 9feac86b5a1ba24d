namespace Orleans.CastIron.Grains;

/// <summary>
/// Whether intake is paused across the whole cluster (one activation, key 0, state kept in grain storage): every silo
/// follows it, a silo that joins or restarts included.
/// </summary>
public interface IIntakeSwitchGrain : IGrainWithIntegerKey
{
    /// <summary>True while intake is paused.</summary>
    Task<bool> IsPausedAsync();

    /// <summary>Pauses or resumes; false when it already was so.</summary>
    Task<bool> SetPausedAsync(bool paused);
}
