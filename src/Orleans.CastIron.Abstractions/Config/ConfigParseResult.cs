namespace Orleans.CastIron.Config;

/// <summary>The outcome of reading a processor config: either a config or the list of everything wrong with it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.ConfigParseResult")]
public sealed record ConfigParseResult
{
    /// <summary>The config, when <see cref="Errors"/> is empty.</summary>
    [Id(0)] public ProcessorConfig? Config { get; init; }

    /// <summary>Every problem found, in text order; empty for a valid config.</summary>
    [Id(1)] public ImmutableArray<ConfigError> Errors { get; init; } = [];

    /// <summary>True when the config is usable.</summary>
    public bool IsValid => Config is not null && Errors.IsDefaultOrEmpty;

    /// <summary>A valid result.</summary>
    public static ConfigParseResult Success(ProcessorConfig config) => new() { Config = config };

    /// <summary>A failed result.</summary>
    public static ConfigParseResult Failure(IEnumerable<ConfigError> errors) => new() { Errors = [.. errors] };
}
