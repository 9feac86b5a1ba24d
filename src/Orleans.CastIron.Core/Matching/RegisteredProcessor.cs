using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Matching;

/// <summary>A valid, enabled config as the matcher sees it.</summary>
public sealed class RegisteredProcessor
{
    /// <summary>Creates a registered processor; <paramref name="config"/> must be valid.</summary>
    /// <param name="configKey">The key of the <c>.toml</c> object.</param>
    /// <param name="config">The validated config.</param>
    /// <param name="registrationOrder">Monotonic number given when the config was first registered.</param>
    public RegisteredProcessor(string configKey, ProcessorConfig config, long registrationOrder)
    {
        ConfigKey = configKey;
        Config = config;
        RegistrationOrder = registrationOrder;
        Paths = new StagePaths(configKey, config);
        Pattern = HandledFilePattern.Create(config.HandledFileGlob);
    }

    /// <summary>The key of the <c>.toml</c> object.</summary>
    public string ConfigKey { get; }

    /// <summary>The validated config.</summary>
    public ProcessorConfig Config { get; }

    /// <summary>Order of first registration; lower wins ties.</summary>
    public long RegistrationOrder { get; }

    /// <summary>The config's stage folders.</summary>
    public StagePaths Paths { get; }

    /// <summary>The compiled <c>handled_file_glob</c>.</summary>
    public HandledFilePattern Pattern { get; }

    /// <summary>Depth of the config's folder (root = 0); deeper configs are more specific.</summary>
    public int FolderDepth => Paths.ConfigFolder.Length == 0 ? 0 : Paths.ConfigFolder.Count(c => c == '/') + 1;
}
