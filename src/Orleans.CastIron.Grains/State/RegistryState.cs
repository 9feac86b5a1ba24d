namespace Orleans.CastIron.Grains.State;

/// <summary>Persisted state of <see cref="ProcessorRegistryGrain"/>.</summary>
[GenerateSerializer, Alias("castiron.RegistryState")]
internal sealed class RegistryState
{
    /// <summary>Every known config by key.</summary>
    [Id(0)] public Dictionary<string, RegisteredConfig> Configs { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The last registration order handed out.</summary>
    [Id(1)] public long NextRegistrationOrder { get; set; }

    /// <summary>Grows with every change, so silos' matching caches know when they are behind.</summary>
    [Id(2)] public long Version { get; set; }

    /// <summary>
    /// The <c>CastIron:StrictConfigs</c> the entries were read with; null for entries read before the seed's forms
    /// were warnings (all strictly).
    /// </summary>
    [Id(3)] public bool? StrictConfigs { get; set; }
}
