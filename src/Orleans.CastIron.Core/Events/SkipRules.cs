using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Events;

/// <summary>Where a bucket event goes (seed-spec F-31).</summary>
public enum EventRoute
{
    /// <summary>A <c>.toml</c> object: to the processor registry.</summary>
    ProcessorConfig,

    /// <summary>A data file: to its FileJob.</summary>
    DataFile,

    /// <summary>Our own placeholders and error logs: nobody.</summary>
    Ignored,
}

/// <summary>
/// Routes a bucket event by the object key's suffix. The seed routed any key merely <em>containing</em> <c>.toml</c>
/// to the registry, so <c>report.toml.csv</c> was never processed; here only the suffix counts. Status metadata is
/// not consulted: a FileJob's own state, not user-settable metadata, decides what is ours (B-29).
/// </summary>
public static class SkipRules
{
    /// <summary>Suffix of processor-config objects.</summary>
    public const string ConfigSuffix = ".toml";

    /// <summary>Name of folder placeholder objects.</summary>
    public const string KeepFileName = ".keep";

    /// <summary>Routes an object key.</summary>
    public static EventRoute Route(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.EndsWith(ConfigSuffix, StringComparison.Ordinal))
        {
            return EventRoute.ProcessorConfig;
        }

        if (ObjectKeys.Leaf(key) == KeepFileName || key.EndsWith(StagePaths.ErrorLogSuffix, StringComparison.Ordinal))
        {
            return EventRoute.Ignored;
        }

        return EventRoute.DataFile;
    }

    /// <summary>Routes a bucket event.</summary>
    public static EventRoute Route(BucketEvent bucketEvent)
    {
        ArgumentNullException.ThrowIfNull(bucketEvent);
        return Route(bucketEvent.Key);
    }
}
