using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.Providers.Streams.Common;
using Orleans.Providers;
using Orleans.Streams;

namespace Orleans.CastIron.Silo.Services;

/// <summary>
/// Keeps this silo's intake as the cluster's switch says (<see cref="IIntakeSwitchGrain"/>), checking every second:
/// bucket-event intake, and this silo's Kafka agents. The pause route acts on every silo at once; this is what makes
/// a silo that joins or restarts while the cluster is paused stay paused.
/// </summary>
public sealed partial class IntakeSwitchFollower(
    IGrainFactory grains,
    IntakeService intake,
    IServiceProvider services,
    ILogger<IntakeSwitchFollower> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var cluster = grains.GetGrain<IIntakeSwitchGrain>(0);
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await FollowAsync(await cluster.IsPausedAsync().ConfigureAwait(false)).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The cluster may still be starting or shutting down; the next second tries again.
                LogFollowFailed(ex);
            }
        }
    }

    private async Task FollowAsync(bool paused)
    {
        var changed = paused ? intake.Pause() : intake.Resume();
        if (services.GetKeyedService<IStreamProvider>(Kafka.CastIronKafkaOptions.StreamProvider) is IControllable kafka)
        {
            var state = await kafka.ExecuteCommand((int)PersistentStreamProviderCommand.GetAgentsState, null).ConfigureAwait(false);
            var stopped = KafkaStreamClusterControl.IsStopped(state);
            if (paused != stopped)
            {
                await kafka.ExecuteCommand((int)(paused ? PersistentStreamProviderCommand.StopAgents : PersistentStreamProviderCommand.StartAgents), null).ConfigureAwait(false);
                changed = true;
            }
        }

        if (changed)
        {
            LogFollowed(paused ? "paused" : "running");
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Intake on this silo is now {State}, as the cluster's switch says")]
    private partial void LogFollowed(string state);

    [LoggerMessage(2, LogLevel.Debug, "Reading the cluster's intake switch failed; tried again in a second")]
    private partial void LogFollowFailed(Exception exception);
}
