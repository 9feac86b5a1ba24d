using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.Processing;

/// <summary>
/// A .NET file processor. Implementations are found by the name in <see cref="FileProcessorAttribute"/>, in the
/// silo's assemblies and in assemblies dropped into the plugins folder. A new instance is created for every file
/// (with constructor injection from the silo's services). Returning normally means success; throwing means failure
/// (the exception text goes to the error log); honour the cancellation token, which fires on user
/// cancel and on timeout.
/// </summary>
public interface IFileProcessor
{
    /// <summary>Processes one file.</summary>
    Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken);
}

/// <summary>
/// A <see cref="IFileProcessor"/> named by a <c>[castiron.etl.python]</c> config with <c>worker_class</c> and
/// <c>worker_setup_method</c>: as the seed did with a Python class, the set-up is called for each file before
/// <see cref="IFileProcessor.ProcessAsync"/>, with the named arguments (<c>static_kwargs</c>, then
/// <c>environment_kwargs</c>), and <see cref="FileJobContext.Arguments"/> then holds only <c>file_metadata</c> /
/// <c>pizza_job_id</c>. A processor without it fails such a config's files, saying so.
/// </summary>
public interface IFileProcessorSetup
{
    /// <summary>The set-up call; <paramref name="method"/> is <c>worker_setup_method</c>.</summary>
    Task SetupAsync(string method, IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken);
}

/// <summary>Names a <see cref="IFileProcessor"/>; configs refer to it by this name.</summary>
/// <param name="name">
/// The name used in <c>[castiron.etl.dotnet] processor</c>, or in <c>[castiron.etl.python] worker_run_method</c> for
/// seed compatibility (e.g. <c>etl.example.example_text_processor.process</c>).
/// </param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class FileProcessorAttribute(string name) : Attribute
{
    /// <summary>The registered name.</summary>
    public string Name { get; } = name;

    /// <summary>
    /// A built-in stand-in for the Python code of the same name (the seed's examples): it runs only when that code
    /// is not found on <c>CastIron:Python:Path</c>, so machines without the seed's Python still run its configs.
    /// </summary>
    public bool PythonStandIn { get; init; }
}

/// <summary>Reports a job's progress as job events (the in-process form of the pizza-tracker protocol).</summary>
public interface IJobProgress
{
    /// <summary>Publishes <c>job_update</c> with <c>task</c>.</summary>
    Task ReportTaskAsync(string task);

    /// <summary>Publishes <c>job_update</c> with <c>progress</c>; values outside 0..1 are ignored.</summary>
    Task ReportProgressAsync(double progress);

    /// <summary>Publishes <c>job_update</c> with <c>committed</c>; negative values are ignored.</summary>
    Task ReportCommittedAsync(long committed);
}

/// <summary>Everything a processor gets for one file.</summary>
public sealed class FileJobContext
{
    /// <summary>Path of the downloaded copy in a per-job temporary folder (also the working directory).</summary>
    public required string LocalPath { get; init; }

    /// <summary>The file id (uuid).</summary>
    public required string FileId { get; init; }

    /// <summary>The job id; job events use it.</summary>
    public required string JobId { get; init; }

    /// <summary>The object key being processed (in the processing folder).</summary>
    public required string ObjectKey { get; init; }

    /// <summary>The name the file was dropped with.</summary>
    public required string OriginalFilename { get; init; }

    /// <summary>The key of the config that took the file.</summary>
    public required string ConfigKey { get; init; }

    /// <summary>1-based attempt number.</summary>
    public required int Attempt { get; init; }

    /// <summary>The object's user metadata.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>
    /// Named arguments: <c>static_kwargs</c>, overridden by <c>environment_kwargs</c> resolved on this silo, plus
    /// <c>file_metadata</c> / <c>pizza_job_id</c> for python-style configs that ask for them.
    /// </summary>
    public required IReadOnlyDictionary<string, object?> Arguments { get; init; }

    /// <summary><c>[castiron.etl.dotnet.options]</c>.</summary>
    public required IReadOnlyDictionary<string, object?> Options { get; init; }

    /// <summary>Publishes task / progress / committed job events.</summary>
    public required IJobProgress Progress { get; init; }

    /// <summary>Processor output; its last 64 KiB go into the error log if the file fails.</summary>
    public required TextWriter Output { get; init; }

    /// <summary>A logger scoped to this file and job.</summary>
    public required ILogger Logger { get; init; }
}
