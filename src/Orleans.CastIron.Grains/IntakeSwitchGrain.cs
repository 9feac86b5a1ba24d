namespace Orleans.CastIron.Grains;

/// <summary>The cluster's intake switch, persisted so a lost activation does not resume a paused cluster.</summary>
internal sealed class IntakeSwitchGrain([PersistentState("intake-switch", CastIronNames.GrainStorage)] IPersistentState<IntakeSwitchState> state)
    : Grain, IIntakeSwitchGrain
{
    public Task<bool> IsPausedAsync() => Task.FromResult(state.State.Paused);

    public async Task<bool> SetPausedAsync(bool paused)
    {
        if (state.State.Paused == paused)
        {
            return false;
        }

        state.State.Paused = paused;
        await state.WriteStateAsync();
        return true;
    }
}

/// <summary>The switch's stored state.</summary>
[GenerateSerializer, Alias("castiron.IntakeSwitchState")]
public sealed class IntakeSwitchState
{
    [Id(0)] public bool Paused { get; set; }
}
