using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka;

/// <summary>
/// A Kafka stream provider across the whole cluster, through Orleans' provider control (one call per active silo):
/// stop and start its pulling agents everywhere, and gather every silo's queues.
/// </summary>
public static class KafkaStreamClusterControl
{
    /// <summary>
    /// Stops reading on every silo: each agent stops, its receiver commits what was delivered, closes its consumer
    /// (librdkafka's prefetching stops with it) and lets go of its queue. Records stay in Kafka.
    /// </summary>
    public static Task StopAgentsAsync(this IManagementGrain management, string provider) =>
        Send(management, provider, PersistentStreamProviderCommand.StopAgents);

    /// <summary>Reads again on every silo, from the committed positions.</summary>
    public static Task StartAgentsAsync(this IManagementGrain management, string provider) =>
        Send(management, provider, PersistentStreamProviderCommand.StartAgents);

    /// <summary>True when the agents of every active silo are stopped.</summary>
    public static async Task<bool> AgentsStoppedAsync(this IManagementGrain management, string provider)
    {
        ArgumentNullException.ThrowIfNull(management);
        var states = await management.SendControlCommandToProvider<PersistentStreamProvider>(provider, (int)PersistentStreamProviderCommand.GetAgentsState).ConfigureAwait(false);
        return states.Length > 0 && states.All(IsStopped);
    }

    /// <summary>True when <paramref name="agentsState"/>, a provider's answer to <c>GetAgentsState</c>, says stopped.</summary>
    public static bool IsStopped(object? agentsState) =>
        // The state crosses silos as a boxed enum or, depending on the path, its number.
        agentsState is not null && Convert.ToInt32(agentsState, System.Globalization.CultureInfo.InvariantCulture) == (int)Orleans.Configuration.StreamLifecycleOptions.RunState.AgentsStopped;

    /// <summary>Every queue read anywhere in the cluster, with the silo reading it.</summary>
    public static async Task<IReadOnlyList<KafkaQueueStatus>> QueuesAsync(this IManagementGrain management, string provider)
    {
        ArgumentNullException.ThrowIfNull(management);
        var perSilo = await management.SendControlCommandToProvider<PersistentStreamProvider>(provider, KafkaStreamCommands.Status).ConfigureAwait(false);
        return [.. perSilo.OfType<IEnumerable<KafkaQueueStatus>>().SelectMany(q => q).OrderBy(q => q.Queue, StringComparer.Ordinal)];
    }

    private static Task Send(IManagementGrain management, string provider, PersistentStreamProviderCommand command)
    {
        ArgumentNullException.ThrowIfNull(management);
        return management.SendControlCommandToProvider<PersistentStreamProvider>(provider, (int)command);
    }
}
