using System.Diagnostics;
using Orleans.CastIron.Processing.Tracking;
using Orleans.CastIron.Tracking;

namespace Orleans.CastIron.Processing.Shell;

/// <summary>The result of a shell run.</summary>
/// <param name="ExitCode">The script's exit code; 0 means success.</param>
public sealed record ShellResult(int ExitCode);

/// <summary>
/// Runs a config's <c>shell</c> script as <c>/bin/bash -c &lt;script&gt;</c> in the job's folder. File names and
/// metadata reach the script only through environment variables (<c>ETL_FILENAME</c>, <c>PIZZA_TRACKER</c>,
/// <c>ETL_FILE_METADATA</c>, ...), never as shell text. stdout and stderr go to the output tail; the pizza-tracker FIFO
/// is read continuously while the script runs and drained after it exits.
/// </summary>
/// <remarks>
/// The script runs in a session and process group of its own (started through <c>setsid</c>). The job ends when the
/// script exits: whatever it left running in its group is killed then, and the whole group on a timeout or cancel,
/// so a background child holding stdout cannot keep a job, or a concurrency slot, busy. A child that left the group
/// itself (its own <c>setsid</c>) cannot be found that way; when it still holds the output it is logged.
/// </remarks>
public sealed partial class ShellRunner(ILogger<ShellRunner> logger)
{
    // Once the group is dead, its output pipes close at once; longer means a process outside the group holds them.
    private static readonly TimeSpan OutputCloseTimeout = TimeSpan.FromSeconds(1);

    private static readonly string? Setsid = ProcessGroups.Setsid;

    private bool _warnedNoSetsid;

    public async Task<ShellResult> RunAsync(
        string script,
        string workingDirectory,
        IReadOnlyDictionary<string, string> environment,
        Func<PizzaTrackerCommand, Task> onTracker,
        OutputTail output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(onTracker);
        ArgumentNullException.ThrowIfNull(output);
        var tracker = await PizzaTrackerFifo.OpenAsync(workingDirectory, onTracker, logger).ConfigureAwait(false);
        var fifo = tracker.Path;
        using var process = new Process { StartInfo = StartInfo(script, workingDirectory, environment, fifo) };
        try
        {
            process.Start();
            process.StandardInput.Close();
            // Our own line reading, not BeginOutputReadLine: that holds a whole line in memory however long it is,
            // and makes waiting for the exit wait for every holder of the pipes too.
            var pumps = Task.WhenAll(
                PumpAsync(process.StandardOutput, output),
                PumpAsync(process.StandardError, output));
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // User cancel or timeout: stop the script and everything it started.
                if (ProcessGroups.KillGroupAndTree(process) is var errno and not 0)
                {
                    LogKillFailed(process.Id, errno);
                }

                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            // The script is done: so is the job. What it left running in its group goes with it.
            if (Setsid is not null && ProcessGroups.Exists(process.Id))
            {
                KillGroup(process);
                LogLeftoversKilled(process.Id);
            }

            if (await Task.WhenAny(pumps, Task.Delay(OutputCloseTimeout, CancellationToken.None)).ConfigureAwait(false) != pumps)
            {
                LogOutputHeldOutsideGroup();
            }

            return new ShellResult(process.ExitCode);
        }
        finally
        {
            // Every line written before the exit is read (the seed lost them: B-12).
            await tracker.DisposeAsync().ConfigureAwait(false);
        }
    }

    private ProcessStartInfo StartInfo(string script, string workingDirectory, IReadOnlyDictionary<string, string> environment, string fifo)
    {
        ProcessStartInfo start;
        if (Setsid is not null)
        {
            // setsid execs bash as the leader of a new session and process group (it does not fork: a child we start
            // is never a group leader), so the group's id is the process id.
            start = new ProcessStartInfo(Setsid);
            start.ArgumentList.Add("/bin/bash");
        }
        else
        {
            if (!_warnedNoSetsid)
            {
                _warnedNoSetsid = true;
                LogNoSetsid();
            }

            start = new ProcessStartInfo("/bin/bash");
        }

        start.WorkingDirectory = workingDirectory;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["PIZZA_TRACKER"] = fifo;
        return start;
    }

    /// <summary>Copies a stream into the tail line by line, in bounded memory (see <see cref="OutputTail"/>).</summary>
    private static async Task PumpAsync(StreamReader source, OutputTail output)
    {
        var buffer = new char[4096];
        using var writer = output.CreateWriter();
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                writer.Write(buffer, 0, read);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The pipe was closed under us: the job is over and its process disposed.
        }
    }

    private void KillGroup(Process process)
    {
        if (Setsid is not null && ProcessGroups.KillAll(process.Id) is var errno and not 0)
        {
            LogKillFailed(process.Id, errno);
        }
    }

    [LoggerMessage(3, LogLevel.Information, "The script exited leaving processes running in its process group {ProcessGroup}; they were killed")]
    private partial void LogLeftoversKilled(int processGroup);

    [LoggerMessage(4, LogLevel.Warning, "A process the script started left its process group (for example with setsid) and still holds the script's output; it keeps running, and its later output is not read")]
    private partial void LogOutputHeldOutsideGroup();

    [LoggerMessage(5, LogLevel.Warning, "setsid was not found: shell scripts run without a process group of their own, so processes they leave running are not killed")]
    private partial void LogNoSetsid();

    [LoggerMessage(6, LogLevel.Warning, "Killing process group {ProcessGroup} failed (errno {Errno})")]
    private partial void LogKillFailed(int processGroup, int errno);
}
