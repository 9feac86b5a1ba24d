namespace Orleans.CastIron.Processing;

/// <summary>How processors run on this silo (section <c>CastIron:Processing</c>).</summary>
public sealed class ProcessingOptions
{
    /// <summary>Files processed at once on this silo. Default: the number of cores.</summary>
    public int MaxConcurrency { get; set; } = Environment.ProcessorCount;

    /// <summary>Time limit per attempt when a config sets no <c>timeout_seconds</c>. Default 1 hour.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Attempts per file when a config sets no <c>max_attempts</c>. Default 3.</summary>
    public int DefaultMaxAttempts { get; set; } = 3;

    /// <summary>Wait before the second attempt; doubles for each further attempt. Default 2 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait between attempts. Default 5 minutes.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Folder for per-job working folders. Default: <c>castiron-jobs</c> in the system temp folder.</summary>
    public string? WorkPath { get; set; }

    /// <summary>The folder holding job folders: <see cref="WorkPath"/> or its default.</summary>
    public string WorkRoot => WorkPath ?? Path.Combine(Path.GetTempPath(), "castiron-jobs");

    /// <summary>Folder whose DLLs are loaded at start to find more .NET processors. Default <c>plugins</c>.</summary>
    public string PluginsPath { get; set; } = "plugins";

    /// <summary>
    /// Largest file a processor is given, in bytes; a larger one fails (not retried) with a message naming this
    /// setting. The job folder's copy is sparse (runs of zeros are holes). Default 0: no limit.
    /// </summary>
    public long MaxFileBytes { get; set; }

    /// <summary>
    /// How long a stopping silo lets running processors finish (no new ones start; waiting files stay where they are).
    /// Attempts still running then are abandoned and run again after the restart, without counting. Default 30 s.
    /// </summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxConcurrency < 1)
        {
            yield return $"CastIron:Processing:{nameof(MaxConcurrency)} must be at least 1";
        }

        if (DefaultTimeout <= TimeSpan.Zero)
        {
            yield return $"CastIron:Processing:{nameof(DefaultTimeout)} must be positive";
        }

        if (DefaultMaxAttempts is < 1 or > 1000)
        {
            yield return $"CastIron:Processing:{nameof(DefaultMaxAttempts)} must be between 1 and 1000";
        }

        if (MaxFileBytes < 0)
        {
            yield return $"CastIron:Processing:{nameof(MaxFileBytes)} must not be negative (0 means no limit)";
        }

        if (ShutdownGracePeriod < TimeSpan.Zero)
        {
            yield return $"CastIron:Processing:{nameof(ShutdownGracePeriod)} must not be negative";
        }

        if (RetryBaseDelay < TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            yield return $"CastIron:Processing:{nameof(RetryBaseDelay)} must be >= 0 and <= {nameof(RetryMaxDelay)}";
        }
    }
}
