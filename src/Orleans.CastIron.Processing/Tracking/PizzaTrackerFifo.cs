using System.Runtime.InteropServices;
using System.Text;
using Orleans.CastIron.Tracking;

namespace Orleans.CastIron.Processing.Tracking;

/// <summary>
/// A job's pizza-tracker FIFO (seed-spec F-21), the same for shell scripts (<c>PIZZA_TRACKER</c>) and Python processors
/// (<c>pizza_tracker</c>): created in the job folder, read continuously while the processor runs (so a processor
/// writing more than the pipe holds never blocks, unlike the seed), and drained when it is disposed.
/// </summary>
public sealed partial class PizzaTrackerFifo : IAsyncDisposable
{
    /// <summary>Name of the FIFO inside the job folder (the seed's name).</summary>
    public const string FileName = "pizza_tracker_file";

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly FileStream _keepOpen;
    private readonly Task _reading;
    private readonly ILogger _logger;

    private PizzaTrackerFifo(string path, FileStream keepOpen, Task reading, ILogger logger)
    {
        Path = path;
        _keepOpen = keepOpen;
        _reading = reading;
        _logger = logger;
    }

    /// <summary>The FIFO's full path, handed to the processor.</summary>
    public string Path { get; }

    /// <summary>Creates the FIFO in <paramref name="folder"/> and starts reading it; each command goes to <paramref name="onCommand"/>, in order.</summary>
    public static async Task<PizzaTrackerFifo> OpenAsync(string folder, Func<PizzaTrackerCommand, Task> onCommand, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(onCommand);
        var path = System.IO.Path.Combine(folder, FileName);
        if (MkFifo(path, 0b110_000_000) != 0)
        {
            throw new IOException($"could not create the pizza-tracker FIFO '{path}' (errno {Marshal.GetLastPInvokeError()})");
        }

        // Opening a FIFO blocks until the other end opens: open the reading end in the background, then our own
        // writing end, which keeps the reader from seeing end-of-file before the processor has even started.
        var readerOpen = Task.Run(() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: false), CancellationToken.None);
        var keepOpen = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, useAsync: false);
        var reader = await readerOpen.ConfigureAwait(false);
        var reading = Task.Run(() => ReadAsync(reader, onCommand, logger), CancellationToken.None);
        return new PizzaTrackerFifo(path, keepOpen, reading, logger);
    }

    /// <summary>
    /// Closes our writing end and waits until every line written is read: the reader sees end-of-file once the
    /// processor's handles are gone too (the seed lost what was written last: B-12). A process still holding the FIFO
    /// open is waited for a few seconds, then logged.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _keepOpen.DisposeAsync().ConfigureAwait(false);
        if (await Task.WhenAny(_reading, Task.Delay(DrainTimeout, CancellationToken.None)).ConfigureAwait(false) != _reading)
        {
            LogStillOpen(_logger, Path);
        }
    }

    private static async Task ReadAsync(FileStream reader, Func<PizzaTrackerCommand, Task> onCommand, ILogger logger)
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
                        await onCommand(command).ConfigureAwait(false);
                    }
                }

                foreach (var command in buffer.Complete())
                {
                    await onCommand(command).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            LogReadFailed(logger, ex);
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    [LoggerMessage(1, LogLevel.Warning, "The pizza-tracker FIFO '{Fifo}' is still held open by a process the processor left running; lines written later are not read")]
    private static partial void LogStillOpen(ILogger logger, string fifo);

    [LoggerMessage(2, LogLevel.Warning, "Reading the pizza-tracker FIFO failed")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);
}
