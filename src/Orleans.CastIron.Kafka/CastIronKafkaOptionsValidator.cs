using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Orleans.CastIron.Kafka;

/// <summary>
/// Checks <see cref="CastIronKafkaOptions.HandlerTimeout"/> at silo start against Orleans' response timeout: a
/// handler allowed to run longer than that would be delivered its record again while still running.
/// </summary>
internal sealed class CastIronKafkaOptionsValidator(IOptions<SiloMessagingOptions> messaging) : IValidateOptions<CastIronKafkaOptions>
{
    public ValidateOptionsResult Validate(string? name, CastIronKafkaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var responseTimeout = messaging.Value.ResponseTimeout;
        if (options.HandlerTimeout <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail($"CastIron:Kafka:HandlerTimeout ({options.HandlerTimeout}) must be positive");
        }

        return options.HandlerTimeout < responseTimeout
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"CastIron:Kafka:HandlerTimeout ({options.HandlerTimeout}) must be shorter than Orleans' SiloMessagingOptions.ResponseTimeout ({responseTimeout}): "
                + "past the response timeout the stream's pulling agent delivers the record again, to a handler still running");
    }
}
