using Orleans.CastIron.Config;

namespace Orleans.CastIron.Grains;

/// <summary>
/// Validates processor-config text without registering it, so users and tools can check a <c>.toml</c>
/// before dropping it into the bucket. Stateless; any silo may answer.
/// </summary>
[Alias("castiron.IConfigValidatorGrain")]
public interface IConfigValidatorGrain : IGrainWithIntegerKey
{
    /// <summary>Parses and validates <paramref name="tomlText"/>; never throws for bad input.</summary>
    /// <param name="sourceName">A name used in error positions, e.g. the object key.</param>
    /// <param name="tomlText">The TOML text.</param>
    [Alias("Validate")]
    Task<ConfigParseResult> ValidateAsync(string sourceName, string tomlText);
}
