using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Grains;

/// <summary>
/// Runs a job's attempts (grain key = job id). A plain grain rather than a stateless worker because a user's cancel
/// must reach the very activation that runs the processor. The processor runs on the thread pool so the grain
/// stays responsive to <see cref="IProcessorRunGrain.CancelAsync"/>; the activation is kept alive while it runs.
/// Nothing is persisted here: if the silo dies, the FileJob notices and starts the next attempt.
/// </summary>
internal sealed partial class ProcessorRunGrain(ProcessorExecutor executor, ILogger<ProcessorRunGrain> logger) : Grain, IProcessorRunGrain
{
    private CancellationTokenSource? _cancel;
    private Task? _run;
    private int _attempt;

    Task IProcessorRunGrain.StartAsync(ProcessorRunRequest request)
    {
        if (_run is { IsCompleted: false })
        {
            if (_attempt != request.Attempt)
            {
                LogAlreadyRunning(request.JobId, _attempt, request.Attempt);
            }

            return Task.CompletedTask;
        }

        _cancel?.Dispose();
        _cancel = new CancellationTokenSource();
        _attempt = request.Attempt;
        // Stay active while the processor runs, even when nobody calls (default collection age is shorter).
        DelayDeactivation(request.Timeout + TimeSpan.FromMinutes(5));
        var fileJob = GrainFactory.GetGrain<IFileJobGrain>(request.FileJobKey);
        var token = _cancel.Token;
        _run = Task.Run(() => AttemptRunner.RunAsync(executor, fileJob, request, logger, token), CancellationToken.None);
        return Task.CompletedTask;
    }

    Task<bool> IProcessorRunGrain.CancelAsync()
    {
        if (_run is { IsCompleted: false } && _cancel is not null)
        {
            _cancel.Cancel();
            return Task.FromResult(true);
        }

        return Task.FromResult(false);
    }

    Task<bool> IProcessorRunGrain.IsRunningAsync(int attempt) =>
        Task.FromResult(_run is { IsCompleted: false } && _attempt == attempt);

    [LoggerMessage(1, LogLevel.Warning, "Job {JobId} already runs attempt {Running}; not starting attempt {Requested}")]
    private partial void LogAlreadyRunning(string jobId, int running, int requested);
}

/// <summary>The part of an attempt that runs off the grain's scheduler: execute, then report to the FileJob.</summary>
internal static partial class AttemptRunner
{
    private static readonly TimeSpan[] ReportRetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30)];

    public static async Task RunAsync(ProcessorExecutor executor, IFileJobGrain fileJob, ProcessorRunRequest request, ILogger logger, CancellationToken canceled)
    {
        var outcome = await executor.ExecuteAsync(request, canceled).ConfigureAwait(false);
        for (var i = 0; ; i++)
        {
            try
            {
                await fileJob.ReportOutcomeAsync(outcome).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (i < ReportRetryDelays.Length)
            {
                LogReportFailed(logger, ex, outcome.JobId, outcome.Attempt);
                await Task.Delay(ReportRetryDelays[i], CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The FileJob's recovery sweep sees the attempt is no longer running and runs it again.
                LogReportAbandoned(logger, ex, outcome.JobId, outcome.Attempt);
                return;
            }
        }
    }

    [LoggerMessage(2, LogLevel.Warning, "Reporting the outcome of job {JobId} attempt {Attempt} failed; retrying")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string jobId, int attempt);

    [LoggerMessage(3, LogLevel.Error, "Could not report the outcome of job {JobId} attempt {Attempt}; recovery will run it again")]
    private static partial void LogReportAbandoned(ILogger logger, Exception exception, string jobId, int attempt);
}
