namespace Orleans.CastIron.Storage.LocalFolder;

/// <summary>Settings of the embedded folder store (section <c>CastIron:LocalFolder</c>).</summary>
public sealed class LocalFolderOptions
{
    /// <summary>Folder holding one sub-folder per bucket (<c>&lt;RootPath&gt;/&lt;bucket&gt;/&lt;key&gt;</c>). Default <c>data</c>.</summary>
    public string RootPath { get; set; } = "data";

    /// <summary>How often the whole bucket is re-scanned, in addition to watcher notifications. Default 2 s.</summary>
    /// <remarks>
    /// The scan is what guarantees nothing is missed (watchers drop events under load); lower means faster pick-up of
    /// files no event announced, more I/O. On Linux a file closed after writing or renamed in does not wait for it.
    /// </remarks>
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A file found by the scan is taken only once it has not changed for this long, so half-written files are not
    /// processed. Default 1 s. On Linux a file closed after writing, or renamed into the bucket, is complete and taken
    /// at once (inotify); the settle time applies to what only the scan finds (a file never closed, a hard link, lost
    /// events, other systems).
    /// </summary>
    public TimeSpan SettleTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many events are handed to grains at once. Default 16.</summary>
    public int DeliveryParallelism { get; set; } = 16;

    /// <summary>Folder, under <see cref="RootPath"/>, for our own files (grain state, status index). Hidden from buckets.</summary>
    public const string SystemFolderName = ".castiron";

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(RootPath))
        {
            yield return $"CastIron:LocalFolder:{nameof(RootPath)} must name a folder";
        }

        if (ScanInterval <= TimeSpan.Zero)
        {
            yield return $"CastIron:LocalFolder:{nameof(ScanInterval)} must be positive";
        }

        if (SettleTime < TimeSpan.Zero)
        {
            yield return $"CastIron:LocalFolder:{nameof(SettleTime)} must not be negative";
        }

        if (DeliveryParallelism < 1)
        {
            yield return $"CastIron:LocalFolder:{nameof(DeliveryParallelism)} must be at least 1";
        }
    }
}
