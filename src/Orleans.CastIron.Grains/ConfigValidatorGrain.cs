using Microsoft.Extensions.Options;
using Orleans.CastIron.Config;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>Parses configs on whichever silo is closest; the work is pure and needs no state.</summary>
[StatelessWorker]
internal sealed class ConfigValidatorGrain(IOptions<CastIronOptions> options) : Grain, IConfigValidatorGrain
{
    // Judged as registration would judge it, so "valid" here means it registers.
    Task<ConfigParseResult> IConfigValidatorGrain.ValidateAsync(string sourceName, string tomlText) =>
        Task.FromResult(ProcessorConfigParser.Parse(tomlText, sourceName, options.Value.StrictConfigs));
}
