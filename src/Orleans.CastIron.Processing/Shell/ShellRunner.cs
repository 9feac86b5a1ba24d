using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
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
public sealed partial class ShellRunner(ILogger<ShellRunner> logger)
{
    /// <summary>Name of the FIFO inside the job folder (the seed's name).</summary>
    public const string TrackerFileName = "pizza_tracker_file";

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

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
        var fifo = Path.Combine(workingDirectory, TrackerFileName);
        if (MkFifo(fifo, 0b110_000_000) != 0)
        {
            throw new IOException($"could not create the pizza-tracker FIFO '{fifo}' (errno {Marshal.GetLastPInvokeError()})");
        }

        // Opening a FIFO blocks until the other end opens: open the reading end in the background, then our own
        // writing end, which keeps the reader from seeing end-of-file before the script has even started.
        var readerOpen = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: false), CancellationToken.None);
        var keepOpen = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, useAsync: false);
        var reader = await readerOpen.ConfigureAwait(false);
        var trackerTask = Task.Run(() => ReadTrackerAsync(reader, onTracker), CancellationToken.None);

        var start = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["PIZZA_TRACKER"] = fifo;

        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output.AppendLine(e.Data);
            }
        };

        try
        {
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // User cancel or timeout: stop the script and everything it started.
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            // Flushes the redirected streams.
            process.WaitForExit();
            return new ShellResult(process.ExitCode);
        }
        finally
        {
            // Closing our writer lets the reader reach end-of-file once the script's own handles are gone: every
            // line written before exit is drained (the seed lost them: B-12).
            await keepOpen.DisposeAsync().ConfigureAwait(false);
            if (await Task.WhenAny(trackerTask, Task.Delay(DrainTimeout, CancellationToken.None)).ConfigureAwait(false) != trackerTask)
            {
                LogTrackerStillOpen(fifo);
            }
        }
    }

    private async Task ReadTrackerAsync(FileStream reader, Func<PizzaTrackerCommand, Task> onTracker)
    {
        var buffer = new PizzaTrackerLineBuffer();
        var bytes = new byte[4096];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        try
        {
            await using (reader.ConfigureAwait(false))
            {
                int read;
                while ((read = reader.Read(bytes, 0, bytes.Length)) > 0)
                {
                    var count = decoder.GetChars(bytes, 0, read, chars, 0);
                    foreach (var command in buffer.Append(chars.AsSpan(0, count)))
                    {
                        await onTracker(command).ConfigureAwait(false);
                    }
                }

                foreach (var command in buffer.Complete())
                {
                    await onTracker(command).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            LogTrackerReadFailed(ex);
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    [LoggerMessage(1, LogLevel.Warning, "The pizza-tracker FIFO '{Fifo}' is still held open by a process the script left running; lines written later are not read")]
    private partial void LogTrackerStillOpen(string fifo);

    [LoggerMessage(2, LogLevel.Warning, "Reading the pizza-tracker FIFO failed")]
    private partial void LogTrackerReadFailed(Exception exception);
}
