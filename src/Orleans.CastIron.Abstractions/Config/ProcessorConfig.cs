namespace Orleans.CastIron.Config;

/// <summary>
/// A validated processor config: the <c>[castiron.etl]</c> table of a <c>.toml</c> object in the bucket.
/// </summary>
/// <remarks>
/// Key names, defaults and meanings follow the seed (seed-spec F-06). Stage folders are stored normalised
/// (no trailing slash) and are always relative to the folder that holds the <c>.toml</c> object.
/// </remarks>
[GenerateSerializer, Immutable, Alias("castiron.ProcessorConfig")]
public sealed record ProcessorConfig
{
    /// <summary>Optional top-level <c>title</c>; documentation only.</summary>
    [Id(0)] public string? Title { get; init; }

    /// <summary><c>enabled</c>: only enabled configs are registered.</summary>
    [Id(1)] public bool Enabled { get; init; }

    /// <summary><c>handled_file_glob</c>: the seed's regex suffix alternation (see <c>HandledFilePattern</c>).</summary>
    [Id(2)] public string HandledFileGlob { get; init; } = "";

    /// <summary><c>handled_mimetypes</c>, split on commas and trimmed; empty when absent.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("handled_mimetypes")]
    [Id(3)] public ImmutableArray<string> HandledMimeTypes { get; init; } = [];

    /// <summary><c>inbox_dir</c>: folder watched for new files.</summary>
    [Id(4)] public string InboxDir { get; init; } = "";

    /// <summary><c>processing_dir</c>: folder for files being processed.</summary>
    [Id(5)] public string ProcessingDir { get; init; } = "";

    /// <summary><c>archive_dir</c>: folder for processed files; <see langword="null"/> when not configured.</summary>
    [Id(6)] public string? ArchiveDir { get; init; }

    /// <summary><c>error_dir</c>: folder for failed files and their error logs.</summary>
    [Id(7)] public string ErrorDir { get; init; } = "";

    /// <summary><c>canceled_dir</c>: folder for canceled files. Default <c>05_canceled</c>.</summary>
    [Id(8)] public string CanceledDir { get; init; } = ProcessorConfigDefaults.CanceledDir;

    /// <summary><c>save_error_log</c>: write <c>&lt;leaf&gt;_error_log_.txt</c> next to a failed file.</summary>
    [Id(9)] public bool SaveErrorLog { get; init; }

    /// <summary><c>shell</c>: a script run with <c>/bin/bash -c</c>; <see langword="null"/> when absent or empty.</summary>
    [Id(10)] public string? Shell { get; init; }

    /// <summary><c>[castiron.etl.python]</c>: seed-compatible entry point resolved by name.</summary>
    [Id(11)] public PythonProcessorConfig? Python { get; init; }

    /// <summary><c>[castiron.etl.dotnet]</c>: a .NET processor registered by name.</summary>
    [Id(12)] public DotnetProcessorConfig? Dotnet { get; init; }

    /// <summary><c>timeout_seconds</c>: per-attempt time limit; <see langword="null"/> means the silo default.</summary>
    [Id(13)] public double? TimeoutSeconds { get; init; }

    /// <summary><c>max_attempts</c>: attempts before a file is Failed; <see langword="null"/> means the silo default.</summary>
    [Id(14)] public int? MaxAttempts { get; init; }

    /// <summary><c>max_concurrency</c>: files of this config processed at once; <see langword="null"/> means unlimited by config.</summary>
    [Id(15)] public int? MaxConcurrency { get; init; }

    /// <summary>Which kind of processor this config runs.</summary>
    public ProcessorKind Kind => Dotnet is not null ? ProcessorKind.Dotnet
        : Python is not null ? ProcessorKind.Python
        : ProcessorKind.Shell;
}

/// <summary>The kinds of processor a config can declare; exactly one is set in a valid config.</summary>
public enum ProcessorKind
{
    /// <summary><c>shell = "..."</c></summary>
    Shell,

    /// <summary><c>[castiron.etl.python]</c></summary>
    Python,

    /// <summary><c>[castiron.etl.dotnet]</c></summary>
    Dotnet,
}

/// <summary><c>[castiron.etl.python]</c> (seed-spec F-06, F-14).</summary>
[GenerateSerializer, Immutable, Alias("castiron.PythonProcessorConfig")]
public sealed record PythonProcessorConfig
{
    /// <summary><c>worker_run_method</c>: dotted name of the entry point (resolved to a registered .NET processor).</summary>
    [Id(0)] public string WorkerRunMethod { get; init; } = "";

    /// <summary><c>worker_class</c>: optional class name; the run method is then a method of it.</summary>
    [Id(1)] public string? WorkerClass { get; init; }

    /// <summary><c>worker_setup_method</c>: optional set-up method of <see cref="WorkerClass"/>.</summary>
    [Id(2)] public string? WorkerSetupMethod { get; init; }

    /// <summary><c>supports_pizza_tracker</c>: pass the tracker and job id to the processor.</summary>
    [Id(3)] public bool SupportsPizzaTracker { get; init; }

    /// <summary><c>supports_metadata</c>: pass the object's user metadata as <c>file_metadata</c>.</summary>
    [Id(4)] public bool SupportsMetadata { get; init; }

    /// <summary><c>static_kwargs</c>: named arguments (TOML values).</summary>
    [Id(5)] public ImmutableDictionary<string, object?> StaticKwargs { get; init; } = ImmutableDictionary<string, object?>.Empty;

    /// <summary><c>environment_kwargs</c>: argument name to environment variable name.</summary>
    [Id(6)] public ImmutableDictionary<string, string> EnvironmentKwargs { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>
    /// The name a processor is registered under: <c>worker_class.worker_run_method</c> when a class is set,
    /// otherwise <c>worker_run_method</c>.
    /// </summary>
    public string EntryPointName => WorkerClass is null ? WorkerRunMethod : $"{WorkerClass}.{WorkerRunMethod}";
}

/// <summary><c>[castiron.etl.dotnet]</c>: a .NET processor found by name.</summary>
[GenerateSerializer, Immutable, Alias("castiron.DotnetProcessorConfig")]
public sealed record DotnetProcessorConfig
{
    /// <summary><c>processor</c>: the name the processor is registered under.</summary>
    [Id(0)] public string Processor { get; init; } = "";

    /// <summary><c>[castiron.etl.dotnet.options]</c>: processor-specific settings (TOML values).</summary>
    [Id(1)] public ImmutableDictionary<string, object?> Options { get; init; } = ImmutableDictionary<string, object?>.Empty;

    /// <summary><c>static_kwargs</c>: named arguments (TOML values).</summary>
    [Id(2)] public ImmutableDictionary<string, object?> StaticKwargs { get; init; } = ImmutableDictionary<string, object?>.Empty;

    /// <summary><c>environment_kwargs</c>: argument name to environment variable name.</summary>
    [Id(3)] public ImmutableDictionary<string, string> EnvironmentKwargs { get; init; } = ImmutableDictionary<string, string>.Empty;
}

/// <summary>Defaults that the seed hard-codes.</summary>
public static class ProcessorConfigDefaults
{
    /// <summary>Default <c>canceled_dir</c>.</summary>
    public const string CanceledDir = "05_canceled";
}
