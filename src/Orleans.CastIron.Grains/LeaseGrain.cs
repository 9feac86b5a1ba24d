namespace Orleans.CastIron.Grains;

/// <summary>In-memory lease: holding it matters only while the holder is alive, so nothing is persisted.</summary>
internal sealed class LeaseGrain(TimeProvider time) : Grain, ILeaseGrain
{
    private string? _holder;
    private DateTimeOffset _expires;

    Task<bool> ILeaseGrain.TryAcquireAsync(string holder, TimeSpan duration)
    {
        var now = time.GetUtcNow();
        if (_holder is not null && _holder != holder && _expires > now)
        {
            return Task.FromResult(false);
        }

        _holder = holder;
        _expires = now + duration;
        // Stay active for as long as the lease lasts, so a deactivation does not hand it to a second holder early.
        DelayDeactivation(duration);
        return Task.FromResult(true);
    }
}
