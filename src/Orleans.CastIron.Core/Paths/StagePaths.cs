namespace Orleans.CastIron.Paths;

/// <summary>
/// The stage folders of one registered config and the keys a file takes in them (seed-spec F-08). Folders are
/// relative to the folder holding the <c>.toml</c>; only a file's leaf name is carried between stages.
/// </summary>
public sealed class StagePaths
{
    /// <summary>Suffix of error-log objects.</summary>
    public const string ErrorLogSuffix = "_error_log_.txt";

    /// <summary>Creates the stage paths of the config stored at <paramref name="configKey"/>.</summary>
    public StagePaths(string configKey, ProcessorConfig config)
    {
        ArgumentNullException.ThrowIfNull(configKey);
        ArgumentNullException.ThrowIfNull(config);
        ConfigKey = configKey;
        ConfigFolder = ObjectKeys.Parent(configKey);
        InboxFolder = ObjectKeys.Combine(ConfigFolder, config.InboxDir);
        ProcessingFolder = ObjectKeys.Combine(ConfigFolder, config.ProcessingDir);
        ArchiveFolder = config.ArchiveDir is null ? null : ObjectKeys.Combine(ConfigFolder, config.ArchiveDir);
        ErrorFolder = ObjectKeys.Combine(ConfigFolder, config.ErrorDir);
        CanceledFolder = ObjectKeys.Combine(ConfigFolder, config.CanceledDir);
    }

    /// <summary>The key of the <c>.toml</c> object.</summary>
    public string ConfigKey { get; }

    /// <summary>The folder holding the <c>.toml</c>; <c>""</c> at the bucket root.</summary>
    public string ConfigFolder { get; }

    /// <summary>The inbox folder key.</summary>
    public string InboxFolder { get; }

    /// <summary>The processing folder key.</summary>
    public string ProcessingFolder { get; }

    /// <summary>The archive folder key, or <see langword="null"/> when <c>archive_dir</c> is not set.</summary>
    public string? ArchiveFolder { get; }

    /// <summary>The error folder key.</summary>
    public string ErrorFolder { get; }

    /// <summary>The canceled folder key.</summary>
    public string CanceledFolder { get; }

    /// <summary>Every configured stage folder, inbox first.</summary>
    public IEnumerable<string> AllFolders
    {
        get
        {
            yield return InboxFolder;
            yield return ProcessingFolder;
            if (ArchiveFolder is not null)
            {
                yield return ArchiveFolder;
            }

            yield return ErrorFolder;
            yield return CanceledFolder;
        }
    }

    /// <summary>The inbox key for the leaf of <paramref name="fileKey"/>.</summary>
    public string Inbox(string fileKey) => In(InboxFolder, fileKey);

    /// <summary>The processing key for the leaf of <paramref name="fileKey"/>.</summary>
    public string Processing(string fileKey) => In(ProcessingFolder, fileKey);

    /// <summary>The archive key for the leaf of <paramref name="fileKey"/>, or <see langword="null"/> without an archive folder.</summary>
    public string? Archive(string fileKey) => ArchiveFolder is null ? null : In(ArchiveFolder, fileKey);

    /// <summary>The error key for the leaf of <paramref name="fileKey"/>.</summary>
    public string Error(string fileKey) => In(ErrorFolder, fileKey);

    /// <summary>The canceled key for the leaf of <paramref name="fileKey"/>.</summary>
    public string Canceled(string fileKey) => In(CanceledFolder, fileKey);

    /// <summary>
    /// The error-log key: in the error folder, named after the leaf with every <c>.</c> replaced by <c>_</c>
    /// plus <c>_error_log_.txt</c> (<c>u-test.csv</c> → <c>u-test_csv_error_log_.txt</c>).
    /// </summary>
    public string ErrorLog(string fileKey) =>
        ObjectKeys.Combine(ErrorFolder, ObjectKeys.Leaf(fileKey).Replace('.', '_') + ErrorLogSuffix);

    /// <summary>True when <paramref name="fileKey"/> sits directly inside the inbox (sub-folders do not count).</summary>
    public bool IsDirectlyInInbox(string fileKey) =>
        string.Equals(ObjectKeys.Parent(fileKey), InboxFolder, StringComparison.Ordinal);

    /// <summary>True when <paramref name="key"/> lies anywhere inside one of this config's stage folders.</summary>
    public bool IsInsideStageFolder(string key) =>
        AllFolders.Any(folder => ObjectKeys.RelativeTo(key, folder) is not null);

    private static string In(string folder, string fileKey) => ObjectKeys.Combine(folder, ObjectKeys.Leaf(fileKey));
}
