namespace Orleans.CastIron.Config;

/// <summary>
/// The outcome of reading a processor config: either a config or the list of everything wrong with it, and in both
/// cases the warnings: forms the seed accepted that load anyway (unknown keys, quoted booleans and numbers, ...).
/// </summary>
[GenerateSerializer, Immutable, Alias("castiron.ConfigParseResult")]
public sealed record ConfigParseResult
{
    /// <summary>The config, when <see cref="Errors"/> is empty.</summary>
    [Id(0)] public ProcessorConfig? Config { get; init; }

    /// <summary>Every problem found, in text order; empty for a valid config.</summary>
    [Id(1)] public ImmutableArray<ConfigError> Errors { get; init; } = [];

    /// <summary>
    /// Forms the seed accepted, each saying what was made of it (ignored, read as <c>true</c>, ...); they do not stop
    /// the config from loading. Under <c>CastIron:StrictConfigs</c> they are <see cref="Errors"/> instead.
    /// </summary>
    [Id(2)] public ImmutableArray<ConfigError> Warnings { get; init; } = [];

    /// <summary>True when the config is usable.</summary>
    public bool IsValid => Config is not null && Errors.IsDefaultOrEmpty;

    /// <summary>A valid result.</summary>
    public static ConfigParseResult Success(ProcessorConfig config, IEnumerable<ConfigError>? warnings = null) =>
        new() { Config = config, Warnings = [.. warnings ?? []] };

    /// <summary>A failed result.</summary>
    public static ConfigParseResult Failure(IEnumerable<ConfigError> errors, IEnumerable<ConfigError>? warnings = null) =>
        new() { Errors = [.. errors], Warnings = [.. warnings ?? []] };
}
