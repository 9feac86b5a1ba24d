using Orleans.CastIron.Config;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>A <c>.toml</c> object as the registry knows it: registered, or with the reason it is not.</summary>
[GenerateSerializer, Immutable, Alias("castiron.RegisteredConfig")]
public sealed record RegisteredConfig
{
    /// <summary>The key of the <c>.toml</c> object.</summary>
    [Id(0)] public string ConfigKey { get; init; } = "";

    /// <summary>The parsed config, when valid.</summary>
    [Id(1)] public ProcessorConfig? Config { get; init; }

    /// <summary>Everything wrong with it, when invalid.</summary>
    [Id(2)] public ImmutableArray<ConfigError> Errors { get; init; } = [];

    /// <summary>True when it takes files: valid and enabled.</summary>
    [Id(3)] public bool Registered { get; init; }

    /// <summary>Order of first registration (ties between configs on one inbox).</summary>
    [Id(4)] public long RegistrationOrder { get; init; }

    /// <summary>The ETag of the object version read.</summary>
    [Id(5)] public string? ETag { get; init; }

    /// <summary>When this entry last changed.</summary>
    [Id(6)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Why it is not registered (disabled, invalid, inside a stage folder), for people.</summary>
    [Id(7)] public string? Note { get; init; }

    /// <summary>Forms the seed accepted that it uses (see <see cref="ConfigParseResult.Warnings"/>), registered or not.</summary>
    [Id(8)] public ImmutableArray<ConfigError> Warnings { get; init; } = [];
}

/// <summary>
/// The processor configs of one bucket (grain key = bucket name): loads every <c>.toml</c> at start, follows puts
/// and deletes, creates stage folders, and matches files to configs. A config that becomes disabled or invalid is
/// unregistered and its errors are kept (seed bugs B-16, B-19).
/// </summary>
[Alias("castiron.IProcessorRegistryGrain")]
public interface IProcessorRegistryGrain : IGrainWithStringKey
{
    /// <summary>
    /// Brings every config up to date with <paramref name="present"/> (every <c>.toml</c> key of the bucket with its
    /// ETag, listed by the caller outside this grain's turn): reads new and changed ones, forgets deleted ones.
    /// </summary>
    /// <param name="listedSince">
    /// When the listing began: a config registered after that (an event raced the listing) is kept even if the
    /// listing missed it. Null: the listing is complete (at start, before any event).
    /// </param>
    [Alias("Rescan")]
    Task RescanAsync(ImmutableDictionary<string, string> present, DateTimeOffset? listedSince = null);

    /// <summary>Reads the config at <paramref name="configKey"/> again (it was put).</summary>
    [Alias("ConfigChanged")]
    Task ConfigChangedAsync(string configKey);

    /// <summary>Forgets the config at <paramref name="configKey"/> (it was deleted).</summary>
    [Alias("ConfigRemoved")]
    Task ConfigRemovedAsync(string configKey);

    /// <summary>Every known config, registered or not, with errors.</summary>
    [ReadOnly, AlwaysInterleave, Alias("GetConfigs")]
    Task<ImmutableArray<RegisteredConfig>> GetConfigsAsync();

    /// <summary>Every known config with the registry's version (it grows with each change).</summary>
    [ReadOnly, AlwaysInterleave, Alias("GetSnapshot")]
    Task<RegistrySnapshot> GetSnapshotAsync();

    /// <summary>
    /// Answers as soon as the version passes <paramref name="knownVersion"/>, or after about 20 s with the current
    /// snapshot: how each silo's matching cache follows the registry.
    /// </summary>
    [ReadOnly, AlwaysInterleave, Alias("WaitForChange")]
    Task<RegistrySnapshot> WaitForChangeAsync(long knownVersion);
}

/// <summary>The registry's configs at one version.</summary>
[GenerateSerializer, Immutable, Alias("castiron.RegistrySnapshot")]
public sealed record RegistrySnapshot(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableArray<RegisteredConfig> Configs);
