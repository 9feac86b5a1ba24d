using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Paths;
using Orleans.CastIron.Processing.Dotnet;
using Orleans.CastIron.Processing.Python;
using Orleans.CastIron.Processing.Shell;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Tracking;

namespace Orleans.CastIron.Processing;

/// <summary>
/// Runs one attempt: downloads the file into a fresh job folder, runs the config's shell script or .NET processor
/// under the silo-wide and per-config concurrency limits and the time limit, and classifies the end: success;
/// failure (error, non-zero exit, timeout — timeouts are failures, not cancellations: seed bug B-07); canceled only
/// when a user asked.
/// </summary>
public sealed partial class ProcessorExecutor(
    IServiceProvider services,
    IObjectStore store,
    IJobEventSink jobEvents,
    ProcessorCatalog<IFileProcessor> catalog,
    ShellRunner shell,
    PythonHost python,
    IOptions<ProcessingOptions> options,
    ILogger<ProcessorExecutor> logger)
{
    /// <summary>Runs one attempt; never throws for processor problems.</summary>
    /// <param name="canceled">Fires when a user cancels the job.</param>
    /// <param name="shutdown">Fires when the silo stops; the attempt is then abandoned and <see langword="null"/> returned (it is run again after the restart, uncounted).</param>
    public async Task<ProcessorOutcome?> ExecuteAsync(ProcessorRunRequest request, CancellationToken canceled, CancellationToken shutdown = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var output = new OutputTail();
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["FileId"] = request.FileId, ["JobId"] = request.JobId, ["ObjectKey"] = request.ObjectKey });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(canceled, shutdown);
        var outcome = await RunAsync(request, output, stop.Token, canceled).ConfigureAwait(false);
        if (shutdown.IsCancellationRequested && !canceled.IsCancellationRequested && outcome.Kind != ProcessorOutcomeKind.Succeeded)
        {
            LogAbandoned(request.ObjectKey, request.JobId, request.Attempt);
            return null;
        }

        return outcome;
    }

    /// <summary>The folder holding job folders.</summary>
    public string WorkRoot => options.Value.WorkRoot;

    /// <summary>
    /// Deletes job folders left by silo processes that are gone (a kill leaves its attempts' folders behind). Folders
    /// are named after the process that made them, so other silos on the machine keep theirs.
    /// </summary>
    public int CleanOrphanedJobFolders()
    {
        if (!Directory.Exists(WorkRoot))
        {
            return 0;
        }

        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(WorkRoot))
        {
            var name = Path.GetFileName(folder);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (name.StartsWith('p') && dash > 1 && int.TryParse(name.AsSpan(1, dash - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !IsAlive(pid))
            {
                TryDelete(folder);
                removed++;
            }
        }

        return removed;
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private async Task<ProcessorOutcome> RunAsync(ProcessorRunRequest request, OutputTail output, CancellationToken stop, CancellationToken canceled)
    {
        var folder = Path.Combine(WorkRoot, $"p{Environment.ProcessId}-{SafeName(request.JobId)}-{request.Attempt}-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(request.Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        LogAttemptStarted(request.ObjectKey, request.JobId, request.Attempt, request.Config.Kind);
        try
        {
            Directory.CreateDirectory(folder);
            // The leaf of a validated key is a plain file name; it cannot leave the job folder.
            var localPath = Path.Combine(folder, ObjectKeys.Leaf(request.ObjectKey));
            await DownloadAsync(request, localPath, linked.Token).ConfigureAwait(false);

            var failure = request.Config.Kind == ProcessorKind.Shell ? await RunShellAsync(request, folder, localPath, output, linked.Token).ConfigureAwait(false)
                : request.Config.Python is { } code && RunsOnPython(code) ? await RunPythonAsync(request, code, folder, localPath, output, linked.Token).ConfigureAwait(false)
                : await RunDotnetAsync(request, localPath, output, linked.Token).ConfigureAwait(false);
            return failure ?? Outcome(request, ProcessorOutcomeKind.Succeeded, null, output);
        }
        catch (OperationCanceledException) when (canceled.IsCancellationRequested)
        {
            return Outcome(request, ProcessorOutcomeKind.Canceled, "canceled by a user", output);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return Outcome(request, ProcessorOutcomeKind.Failed, "the silo is stopping", output);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            var seconds = request.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            return Outcome(request, ProcessorOutcomeKind.Failed, $"timed out after {seconds} s", output, retryable: true);
        }
        catch (FileTooLargeException ex)
        {
            return Outcome(request, ProcessorOutcomeKind.Failed, ex.Message, output);
        }
        catch (ObjectNotFoundException ex)
        {
            return Outcome(request, ProcessorOutcomeKind.Failed, $"the file is gone from the processing folder: {ex.Message}", output);
        }
        catch (Exception ex)
        {
            output.AppendLine(ex.ToString());
            return Outcome(request, ProcessorOutcomeKind.Failed, $"{ex.GetType().Name}: {ex.Message}", output, retryable: true);
        }
        finally
        {
            TryDelete(folder);
        }
    }

    private async Task DownloadAsync(ProcessorRunRequest request, string localPath, CancellationToken cancellationToken)
    {
        await using var source = await store.OpenReadAsync(request.Bucket, request.ObjectKey, cancellationToken).ConfigureAwait(false);
        await using var target = new FileStream(localPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await SparseCopy.CopyAsync(source, target, options.Value.MaxFileBytes, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ProcessorOutcome?> RunShellAsync(ProcessorRunRequest request, string folder, string localPath, OutputTail output, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ETL_FILENAME"] = localPath,
            ["ETL_FILE_METADATA"] = JsonSerializer.Serialize(request.Metadata),
            ["ETL_FILE_ID"] = request.FileId,
            ["ETL_JOB_ID"] = request.JobId,
            ["ETL_ORIGINAL_FILENAME"] = request.OriginalFilename,
        };
        var result = await shell.RunAsync(
            request.Config.Shell!,
            folder,
            environment,
            command => command.ToJobEvent(request.JobId) is { } jobEvent ? jobEvents.PublishAsync(jobEvent, CancellationToken.None) : Task.CompletedTask,
            output,
            cancellationToken).ConfigureAwait(false);
        return result.ExitCode == 0
            ? null
            : Outcome(request, ProcessorOutcomeKind.Failed, $"the shell script exited with code {result.ExitCode}", output, retryable: true);
    }

    /// <summary>
    /// Where a <c>[castiron.etl.python]</c> name runs: a .NET processor registered under it claims it; a built-in
    /// stand-in (the seed's examples) gives way to the Python module when it is on the Python path; any other name is
    /// Python code.
    /// </summary>
    private bool RunsOnPython(PythonProcessorConfig code)
    {
        var name = code.EntryPointName;
        return !catalog.Contains(name) || (catalog.IsPythonStandIn(name) && python.FindsModule(code.WorkerClass ?? code.WorkerRunMethod));
    }

    /// <summary>The named arguments: <c>static_kwargs</c>, then <c>environment_kwargs</c> set on this silo (as strings, overriding).</summary>
    private static ImmutableDictionary<string, object?> NamedArguments(ProcessorConfig config)
    {
        var arguments = ImmutableDictionary.CreateBuilder<string, object?>(StringComparer.Ordinal);
        arguments.AddRange(config.Dotnet?.StaticKwargs ?? config.Python!.StaticKwargs);
        foreach (var (argument, variable) in config.Dotnet?.EnvironmentKwargs ?? config.Python!.EnvironmentKwargs)
        {
            if (Environment.GetEnvironmentVariable(variable) is { } value)
            {
                arguments[argument] = value;
            }
        }

        return arguments.ToImmutable();
    }

    private async Task<ProcessorOutcome?> RunPythonAsync(ProcessorRunRequest request, PythonProcessorConfig code, string folder, string localPath, OutputTail output, CancellationToken cancellationToken)
    {
        var outcome = await python.RunFileAsync(
            request.ConfigKey,
            code,
            request.JobId,
            folder,
            localPath,
            NamedArguments(request.Config),
            request.Metadata,
            command => command.ToJobEvent(request.JobId) is { } jobEvent ? jobEvents.PublishAsync(jobEvent, CancellationToken.None) : Task.CompletedTask,
            output,
            cancellationToken).ConfigureAwait(false);
        LogRanOn(code.EntryPointName, request.JobId, outcome.Runtime);
        if (output.ToString() is { Length: > 0 } printed)
        {
            // Where the seed's Ray workers sent a processor's prints: the worker's log.
            LogPythonOutput(request.JobId, printed.TrimEnd());
        }

        await jobEvents.PublishAsync(JobEvent.TaskUpdate(request.JobId, $"{code.EntryPointName} ran on {outcome.Runtime}"), CancellationToken.None).ConfigureAwait(false);
        return outcome.Failure is null ? null : Outcome(request, ProcessorOutcomeKind.Failed, outcome.Failure, output, retryable: outcome.Retryable);
    }

    private async Task<ProcessorOutcome?> RunDotnetAsync(ProcessorRunRequest request, string localPath, OutputTail output, CancellationToken cancellationToken)
    {
        var config = request.Config;
        var name = config.Dotnet?.Processor ?? config.Python!.EntryPointName;
        var processor = catalog.Create(services, name);
        if (processor is null)
        {
            var known = string.Join(", ", catalog.Names);
            return Outcome(request, ProcessorOutcomeKind.Failed, $"no .NET processor is registered as '{name}' (registered: {(known.Length == 0 ? "none" : known)})", output);
        }

        if (catalog.IsPythonStandIn(name))
        {
            LogRanOn(name, request.JobId, "the built-in .NET stand-in (the Python module is not on CastIron:Python:Path)");
            await jobEvents.PublishAsync(JobEvent.TaskUpdate(request.JobId, $"{name} runs as the built-in .NET stand-in"), CancellationToken.None).ConfigureAwait(false);
        }

        var arguments = NamedArguments(config).ToBuilder();
        if (config.Python?.WorkerSetupMethod is { } setup)
        {
            // The seed's class set-up: the named arguments go to the set-up, not to the run.
            if (processor is not IFileProcessorSetup withSetup)
            {
                (processor as IDisposable)?.Dispose();
                return Outcome(request, ProcessorOutcomeKind.Failed, $"worker_setup_method '{setup}' is set, but the .NET processor '{name}' has no set-up (it does not implement IFileProcessorSetup)", output);
            }

            await withSetup.SetupAsync(setup, arguments.ToImmutable(), cancellationToken).ConfigureAwait(false);
            arguments.Clear();
        }

        if (config.Python is { SupportsMetadata: true })
        {
            arguments["file_metadata"] = request.Metadata;
        }

        if (config.Python is { SupportsPizzaTracker: true })
        {
            arguments["pizza_job_id"] = request.JobId;
        }

        using var writer = output.CreateWriter();
        var processorLogger = services.GetRequiredService<ILoggerFactory>().CreateLogger(processor.GetType());
        var context = new FileJobContext
        {
            LocalPath = localPath,
            FileId = request.FileId,
            JobId = request.JobId,
            ObjectKey = request.ObjectKey,
            OriginalFilename = request.OriginalFilename,
            ConfigKey = request.ConfigKey,
            Attempt = request.Attempt,
            Metadata = request.Metadata,
            Arguments = arguments.ToImmutable(),
            Options = config.Dotnet?.Options ?? ImmutableDictionary<string, object?>.Empty,
            Progress = new JobProgress(jobEvents, request.JobId),
            Output = writer,
            Logger = processorLogger,
        };
        try
        {
            await processor.ProcessAsync(context, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            (processor as IDisposable)?.Dispose();
        }

        return null;
    }

    private ProcessorOutcome Outcome(ProcessorRunRequest request, ProcessorOutcomeKind kind, string? reason, OutputTail output, bool retryable = false)
    {
        LogAttemptEnded(request.ObjectKey, request.JobId, request.Attempt, kind, reason);
        return new ProcessorOutcome { JobId = request.JobId, Attempt = request.Attempt, Kind = kind, Reason = reason, Retryable = retryable, Output = output.ToString() };
    }

    private static string SafeName(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));

    private void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException ex)
        {
            LogCleanupFailed(ex, folder);
        }
    }

    /// <summary>Progress reports from .NET processors, published as job events.</summary>
    private sealed class JobProgress(IJobEventSink sink, string jobId) : IJobProgress
    {
        public Task ReportTaskAsync(string task) =>
            string.IsNullOrEmpty(task) ? Task.CompletedTask : sink.PublishAsync(JobEvent.TaskUpdate(jobId, task));

        public Task ReportProgressAsync(double progress) =>
            progress is >= 0 and <= 1 ? sink.PublishAsync(JobEvent.ProgressUpdate(jobId, progress)) : Task.CompletedTask;

        public Task ReportCommittedAsync(long committed) =>
            committed >= 0 ? sink.PublishAsync(JobEvent.CommittedUpdate(jobId, committed)) : Task.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "Processing '{ObjectKey}' (job {JobId}, attempt {Attempt}, {Kind} processor)")]
    private partial void LogAttemptStarted(string objectKey, string jobId, int attempt, ProcessorKind kind);

    [LoggerMessage(2, LogLevel.Debug, "Attempt {Attempt} of job {JobId} on '{ObjectKey}' ended: {Outcome} {Reason}")]
    private partial void LogAttemptEnded(string objectKey, string jobId, int attempt, ProcessorOutcomeKind outcome, string? reason);

    [LoggerMessage(4, LogLevel.Warning, "Attempt {Attempt} of job {JobId} on '{ObjectKey}' was abandoned: the silo is stopping; it runs again after the restart")]
    private partial void LogAbandoned(string objectKey, string jobId, int attempt);

    [LoggerMessage(6, LogLevel.Information, "Job {JobId}: the Python processor printed:\n{Output}")]
    private partial void LogPythonOutput(string jobId, string output);

    [LoggerMessage(5, LogLevel.Information, "Job {JobId}: {Processor} runs on {Runtime}")]
    private partial void LogRanOn(string processor, string jobId, string runtime);

    [LoggerMessage(3, LogLevel.Warning, "Could not delete the job folder '{Folder}'")]
    private partial void LogCleanupFailed(Exception exception, string folder);
}
