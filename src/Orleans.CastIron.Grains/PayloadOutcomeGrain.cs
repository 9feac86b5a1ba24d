namespace Orleans.CastIron.Grains;

/// <summary>
/// The outcome of one awaited payload message, in memory only: a sender waits for it from the moment its record is
/// produced, so it is kept <see cref="Kept"/> after it came and then forgotten. Lost with its silo (the sender is
/// then told no outcome came; the message itself is still handled at least once).
/// </summary>
internal sealed class PayloadOutcomeGrain(TimeProvider time, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : Grain, IPayloadOutcomeGrain
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>How long a reported outcome is kept for a sender that asks late.</summary>
    public static readonly TimeSpan Kept = TimeSpan.FromMinutes(10);

    private readonly TaskCompletionSource<PayloadOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task ReportAsync(PayloadOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (_outcome.TrySetResult(outcome))
        {
            DelayDeactivation(Kept);
        }

        return Task.CompletedTask;
    }

    public async Task<PayloadOutcome?> WaitAsync(TimeSpan wait)
    {
        if (!_outcome.Task.IsCompleted && wait > TimeSpan.Zero)
        {
            // A silo stopping ends the wait at once (the sender asks again, of the activation's new home).
            await ((Task)_outcome.Task.WaitAsync(wait < MaxWait ? wait : MaxWait, time, lifetime.ApplicationStopping)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        return _outcome.Task.IsCompletedSuccessfully ? _outcome.Task.Result : null;
    }
}
