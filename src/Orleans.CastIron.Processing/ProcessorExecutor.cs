using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Paths;
using Orleans.CastIron.Processing.Dotnet;
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
    IOptions<ProcessingOptions> options,
    ILogger<ProcessorExecutor> logger)
{
    private readonly SemaphoreSlim _global = new(options.Value.MaxConcurrency, options.Value.MaxConcurrency);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _perConfig = new(StringComparer.Ordinal);

    /// <summary>Runs one attempt; never throws for processor problems.</summary>
    /// <param name="canceled">Fires when a user cancels the job.</param>
    public async Task<ProcessorOutcome> ExecuteAsync(ProcessorRunRequest request, CancellationToken canceled)
    {
        ArgumentNullException.ThrowIfNull(request);
        var output = new OutputTail();
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["FileId"] = request.FileId, ["JobId"] = request.JobId, ["ObjectKey"] = request.ObjectKey });

        var perConfig = request.Config.MaxConcurrency is { } limit
            ? _perConfig.GetOrAdd(request.ConfigKey + "#" + limit.ToString(CultureInfo.InvariantCulture), _ => new SemaphoreSlim(limit, limit))
            : null;
        try
        {
            await _global.WaitAsync(canceled).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return Outcome(request, ProcessorOutcomeKind.Canceled, "canceled by a user before it started", output);
        }

        try
        {
            if (perConfig is not null)
            {
                try
                {
                    await perConfig.WaitAsync(canceled).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return Outcome(request, ProcessorOutcomeKind.Canceled, "canceled by a user before it started", output);
                }
            }

            try
            {
                return await RunAsync(request, output, canceled).ConfigureAwait(false);
            }
            finally
            {
                perConfig?.Release();
            }
        }
        finally
        {
            _global.Release();
        }
    }

    private async Task<ProcessorOutcome> RunAsync(ProcessorRunRequest request, OutputTail output, CancellationToken canceled)
    {
        var workRoot = options.Value.WorkPath ?? Path.Combine(Path.GetTempPath(), "castiron-jobs");
        var folder = Path.Combine(workRoot, $"{SafeName(request.JobId)}-{request.Attempt}-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(request.Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(canceled, timeout.Token);
        LogAttemptStarted(request.ObjectKey, request.JobId, request.Attempt, request.Config.Kind);
        try
        {
            Directory.CreateDirectory(folder);
            // The leaf of a validated key is a plain file name; it cannot leave the job folder.
            var localPath = Path.Combine(folder, ObjectKeys.Leaf(request.ObjectKey));
            await DownloadAsync(request, localPath, linked.Token).ConfigureAwait(false);

            var failure = request.Config.Kind == ProcessorKind.Shell
                ? await RunShellAsync(request, folder, localPath, output, linked.Token).ConfigureAwait(false)
                : await RunDotnetAsync(request, localPath, output, linked.Token).ConfigureAwait(false);
            return failure ?? Outcome(request, ProcessorOutcomeKind.Succeeded, null, output);
        }
        catch (OperationCanceledException) when (canceled.IsCancellationRequested)
        {
            return Outcome(request, ProcessorOutcomeKind.Canceled, "canceled by a user", output);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            var seconds = request.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            return Outcome(request, ProcessorOutcomeKind.Failed, $"timed out after {seconds} s", output, retryable: true);
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
        await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
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

        var arguments = ImmutableDictionary.CreateBuilder<string, object?>(StringComparer.Ordinal);
        var staticKwargs = config.Dotnet?.StaticKwargs ?? config.Python!.StaticKwargs;
        var environmentKwargs = config.Dotnet?.EnvironmentKwargs ?? config.Python!.EnvironmentKwargs;
        arguments.AddRange(staticKwargs);
        foreach (var (argument, variable) in environmentKwargs)
        {
            // As in the seed: only variables set on the executing silo, as strings, overriding static values.
            if (Environment.GetEnvironmentVariable(variable) is { } value)
            {
                arguments[argument] = value;
            }
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

    [LoggerMessage(2, LogLevel.Information, "Attempt {Attempt} of job {JobId} on '{ObjectKey}' ended: {Outcome} {Reason}")]
    private partial void LogAttemptEnded(string objectKey, string jobId, int attempt, ProcessorOutcomeKind outcome, string? reason);

    [LoggerMessage(3, LogLevel.Warning, "Could not delete the job folder '{Folder}'")]
    private partial void LogCleanupFailed(Exception exception, string folder);
}
