using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Configuration;
using Orleans.Streams;

namespace Orleans.Hosting;

/// <summary>Registers Kafka stream providers on a silo.</summary>
public static class KafkaStreamSiloBuilderExtensions
{
    /// <summary>
    /// Adds a read-only persistent stream provider named <paramref name="name"/> over Kafka. Consumers use implicit
    /// subscriptions on the topics' stream namespaces (no pub/sub store needed). Options are validated at start.
    /// </summary>
    /// <param name="configureStreams">Further stream settings (pulling agent, cache), applied after the defaults.</param>
    public static ISiloBuilder AddKafkaStreams(this ISiloBuilder builder, string name, Action<KafkaStreamOptions> configure, Action<ISiloPersistentStreamConfigurator>? configureStreams = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        builder.Services.AddOptions<KafkaStreamOptions>(name).Configure(configure).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<KafkaStreamOptions>>(new NamedValidator(name));
        builder.Services.AddKeyedSingleton(name, (_, _) => new KafkaStreamControl(name));
        builder.Services.AddKeyedSingleton(name, (sp, _) => new KafkaDeadLetters(sp.GetRequiredService<IOptionsMonitor<KafkaStreamOptions>>().Get(name), sp.GetRequiredService<ILogger<KafkaDeadLetters>>()));
        return builder.AddPersistentStreams(name, KafkaAdapterFactory.Create, configurator =>
        {
            configurator.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
            configurator.ConfigurePullingAgent(ob => ob.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(20)));
            configureStreams?.Invoke(configurator);
        });
    }

    private sealed class NamedValidator(string name) : IValidateOptions<KafkaStreamOptions>
    {
        public ValidateOptionsResult Validate(string? optionsName, KafkaStreamOptions options)
        {
            if (optionsName != name)
            {
                return ValidateOptionsResult.Skip;
            }

            var problems = options.Validate(name).ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
