namespace Orleans.CastIron.Grains;

/// <summary>Workflow settings (section <c>CastIron</c>).</summary>
public sealed class CastIronOptions
{
    /// <summary>The bucket watched (the seed's <c>minio_etl_bucket</c>). Default <c>etl</c>.</summary>
    public string Bucket { get; set; } = "etl";

    /// <summary>
    /// When an in-flight job nothing else wakes is looked at again (a lost outcome report, a step stuck on a store
    /// error), beyond its own timers. Not a sweep: it is one job's durable timer. Default 30 s.
    /// </summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a finished job's grain state is kept (its status record stays in the status store). Default 1 hour.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Attempts lost to silo stops or crashes before a file is Failed (so a file that kills its silo cannot loop). Default 5.</summary>
    public int MaxInterruptions { get; set; } = 5;

    /// <summary>
    /// Match files by content type too (<c>handled_mimetypes</c>, tried before the pattern, as the seed did with
    /// <c>ENABLE_TIKA</c>). The content type is the object's own, as stored or announced. Default off.
    /// </summary>
    public bool MatchContentType { get; set; }

    /// <summary>
    /// Refuse processor configs that use forms only the seed's lenient reading accepted: unknown keys, quoted booleans
    /// and numbers, <c>shell</c> next to <c>python</c>, a set-up method without a class, a non-string title. Default off:
    /// such configs load as the seed read them, each form reported as a warning (logged at registration, listed by
    /// <c>/processors</c> and the validation route).
    /// </summary>
    /// <remarks>
    /// Turning it on unregisters, at their next load (a change or a silo start), the configs whose warnings it makes
    /// errors: check <c>/processors</c> for warnings first.
    /// </remarks>
    public bool StrictConfigs { get; set; }

    /// <summary>
    /// How often one silo of the cluster lists the registered inboxes for files no event announced (a lost bucket
    /// notification delays a file by at most this long). Unset: the event source's default (1 minute with the S3
    /// store; off with the folder store, whose own scan sees every file). Zero turns it off.
    /// </summary>
    public TimeSpan? ReconcileInterval { get; set; }

    /// <summary>
    /// How often, during reconciliation, the whole bucket is listed for processor configs (<c>.toml</c>) added or
    /// removed without an event. Default 1 minute (raise it for buckets of millions of objects); never more often than
    /// <see cref="ReconcileInterval"/>.
    /// </summary>
    public TimeSpan ConfigReconcileInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket) || Bucket.Length is < 3 or > 63 || Bucket.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.')))
        {
            yield return $"CastIron:{nameof(Bucket)} '{Bucket}' is not a valid bucket name (3-63 lower-case letters, digits, '.' or '-')";
        }

        if (RecoveryInterval <= TimeSpan.Zero)
        {
            yield return $"CastIron:{nameof(RecoveryInterval)} must be positive";
        }

        if (Retention < TimeSpan.Zero)
        {
            yield return $"CastIron:{nameof(Retention)} must not be negative";
        }

        if (ReconcileInterval < TimeSpan.Zero || ConfigReconcileInterval <= TimeSpan.Zero)
        {
            yield return $"CastIron:{nameof(ReconcileInterval)} must not be negative (0 turns it off) and CastIron:{nameof(ConfigReconcileInterval)} must be positive";
        }

        if (MaxInterruptions is < 0 or > 1000)
        {
            yield return $"CastIron:{nameof(MaxInterruptions)} must be between 0 and 1000";
        }
    }
}
