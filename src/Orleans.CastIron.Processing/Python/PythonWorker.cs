using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Orleans.CastIron.Processing.Python;

/// <summary>What a worker answered to one request (protocol 1, <c>done</c>).</summary>
/// <param name="Ok">The callable returned (its return value is ignored, as in the seed).</param>
/// <param name="Stage">When not <paramref name="Ok"/>: <c>import</c>, <c>run</c> or <c>call</c>.</param>
/// <param name="Error">When not <paramref name="Ok"/>: the exception's last line, e.g. <c>ValueError: bad row</c>.</param>
/// <param name="FifoOpen">The processor still holds the pizza-tracker FIFO open after returning.</param>
/// <param name="LeftRunning">Processes the request started and left running; the worker killed them.</param>
public sealed record PythonReply(bool Ok, string? Stage, string? Error, bool FifoOpen, int LeftRunning);

/// <summary>A request got no answer: the worker could not start, died, or was killed for its memory.</summary>
public sealed class PythonWorkerException(string message) : Exception(message);

/// <summary>
/// One Python worker process (<c>castiron_worker.py</c>, protocol <see cref="Protocol"/>), started in a process group
/// of its own; one request at a time. A worker whose request was canceled, timed out, or failed to answer is killed
/// with its whole group and must not be used again (<see cref="IsBroken"/>).
/// </summary>
internal sealed partial class PythonWorker : IAsyncDisposable
{
    /// <summary>The protocol this silo speaks; the worker says its own in <c>hello</c>.</summary>
    public const int Protocol = 1;

    private const int MaxReplyBytes = 1 << 20;
    private static readonly TimeSpan MemoryCheckInterval = TimeSpan.FromMilliseconds(200);
    private static readonly Lazy<string> Script = new(() =>
    {
        using var stream = typeof(PythonWorker).Assembly.GetManifestResourceStream("castiron_worker.py")
            ?? throw new InvalidOperationException("castiron_worker.py is not embedded in the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    });

    private readonly Process _process;
    private readonly Stream _requests;
    private readonly Stream _replies;
    private readonly ILogger _logger;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private long _exceededBytes;
    private Task? _stderr;
    private readonly Queue<string> _recent = new();

    private PythonWorker(string key, Process process, ILogger logger)
    {
        Key = key;
        _process = process;
        _requests = process.StandardInput.BaseStream;
        _replies = process.StandardOutput.BaseStream;
        _logger = logger;
        Pid = process.Id;
    }

    /// <summary>The pool this worker belongs to.</summary>
    public string Key { get; }

    /// <summary>The worker's process id (and process group id).</summary>
    public int Pid { get; }

    /// <summary>The interpreter's version, from its <c>hello</c>.</summary>
    public string PythonVersion { get; private set; } = "";

    /// <summary>Requests sent so far.</summary>
    public int Requests { get; private set; }

    /// <summary>When it last finished a request (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; } = Environment.TickCount64;

    /// <summary>Killed, exited, or out of step with its requests: never to be used again.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>Starts a worker and waits for its <c>hello</c>.</summary>
    public static async Task<PythonWorker> StartAsync(string key, PythonOptions options, string workingDirectory, ILogger logger, CancellationToken cancellationToken)
    {
        var start = ProcessGroups.Setsid is { } setsid ? new ProcessStartInfo(setsid) : new ProcessStartInfo(options.Executable);
        if (ProcessGroups.Setsid is not null)
        {
            start.ArgumentList.Add(options.Executable);
        }

        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script.Value);
        start.WorkingDirectory = workingDirectory;
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        // The configured folders come first, then whatever PYTHONPATH the silo was given.
        var path = options.PathFolders.ToList();
        if (Environment.GetEnvironmentVariable("PYTHONPATH") is { Length: > 0 } inherited)
        {
            path.Add(inherited);
        }

        if (path.Count > 0)
        {
            start.Environment["PYTHONPATH"] = string.Join(':', path);
        }

        // A processor's prints reach its output file as they happen, so a worker killed mid-file leaves them there.
        start.Environment["PYTHONUNBUFFERED"] = "1";
        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            process.Dispose();
            throw new PythonWorkerException($"could not start the Python interpreter '{options.Executable}' (CastIron:Python:Executable): {ex.Message}");
        }

        var worker = new PythonWorker(key, process, logger);
        worker._stderr = Task.Run(worker.PumpStderrAsync, CancellationToken.None);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.StartTimeout);
            JsonNode? hello;
            try
            {
                hello = await worker.ReadReplyAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new PythonWorkerException($"the Python worker did not start within {options.StartTimeout.TotalSeconds:0.#} s (CastIron:Python:StartTimeout)");
            }

            if (hello is null)
            {
                var exit = await worker.ExitDescriptionAsync().ConfigureAwait(false);
                throw new PythonWorkerException($"the Python interpreter '{options.Executable}' (CastIron:Python:Executable) {exit} at start{worker.RecentStderr()}");
            }

            if (hello["type"]?.GetValue<string>() != "hello" || hello["protocol"]?.GetValue<int>() is not Protocol)
            {
                throw new PythonWorkerException($"the Python worker answered {Truncate(hello.ToJsonString())} instead of a protocol {Protocol} hello");
            }

            worker.PythonVersion = hello["python"]?.GetValue<string>() ?? "";
            LogStarted(logger, worker.Pid, key, worker.PythonVersion);
            return worker;
        }
        catch
        {
            await worker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends one request and waits for its answer. When <paramref name="cancellationToken"/> fires (a timeout, a
    /// user's cancel, the silo stopping) the worker is killed with everything it started, and the cancellation thrown.
    /// </summary>
    /// <exception cref="PythonWorkerException">The worker died, or grew past <paramref name="memoryLimitBytes"/> and was killed.</exception>
    public async Task<PythonReply> RequestAsync(JsonObject request, long memoryLimitBytes, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(IsBroken, this);
        Requests++;
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _exceededBytes = 0;
        var monitor = memoryLimitBytes > 0 ? WatchMemoryAsync(memoryLimitBytes, watch) : Task.CompletedTask;
        try
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(request);
            await _requests.WriteAsync(bytes, watch.Token).ConfigureAwait(false);
            _requests.WriteByte((byte)'\n');
            await _requests.FlushAsync(watch.Token).ConfigureAwait(false);
            var reply = await ReadReplyAsync(watch.Token).ConfigureAwait(false)
                ?? throw new PythonWorkerException($"the Python worker (pid {Pid}) {await ExitDescriptionAsync().ConfigureAwait(false)}");
            if (reply["type"]?.GetValue<string>() != "done")
            {
                Kill();
                throw new PythonWorkerException($"the Python worker (pid {Pid}) answered {Truncate(reply.ToJsonString())} instead of done");
            }

            return new PythonReply(
                reply["ok"]?.GetValue<bool>() == true,
                reply["stage"]?.GetValue<string>(),
                reply["error"]?.GetValue<string>(),
                reply["fifo_open"]?.GetValue<bool>() == true,
                reply["left_running"]?.GetValue<int>() ?? 0);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _exceededBytes > 0)
        {
            Kill();
            throw new PythonWorkerException($"the Python worker (pid {Pid}) reached {_exceededBytes >> 20} MiB of resident memory, more than CastIron:Python:MemoryLimitMiB ({memoryLimitBytes >> 20}); it was killed");
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw;
        }
        catch (IOException ex)
        {
            // Writing to a worker that died: its stdin pipe is closed.
            Kill();
            throw new PythonWorkerException($"the Python worker (pid {Pid}) {await ExitDescriptionAsync().ConfigureAwait(false)} ({ex.Message})");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            Kill();
            throw new PythonWorkerException($"the Python worker (pid {Pid}) broke the protocol: {ex.Message}");
        }
        finally
        {
            await watch.CancelAsync().ConfigureAwait(false);
            await monitor.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Resident memory of the worker, in bytes (0 where <c>/proc</c> is not available).</summary>
    public long ResidentBytes()
    {
        try
        {
            var statm = File.ReadAllText($"/proc/{Pid}/statm");
            var fields = statm.Split(' ');
            return long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>Kills the worker and every process in its group; it is broken from then on.</summary>
    public void Kill()
    {
        IsBroken = true;
        ProcessGroups.KillGroupAndTree(_process);
    }

    /// <summary>Asks a healthy worker to exit, kills it otherwise.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!IsBroken && !_process.HasExited)
        {
            try
            {
                _requests.Write("{\"type\":\"exit\"}\n"u8);
                _requests.Flush();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // It did not go quietly.
            }
        }

        Kill();
        if (_stderr is not null)
        {
            await _stderr.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _process.Dispose();
    }

    /// <summary>Cancels <paramref name="watch"/> once the worker's resident memory passes <paramref name="limit"/>, noting how much it was.</summary>
    private async Task WatchMemoryAsync(long limit, CancellationTokenSource watch)
    {
        try
        {
            while (true)
            {
                await Task.Delay(MemoryCheckInterval, watch.Token).ConfigureAwait(false);
                if (ResidentBytes() is var resident && resident > limit)
                {
                    _exceededBytes = resident;
                    await watch.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The next reply line as JSON, or null at end of stream (the worker exited).</summary>
    private async Task<JsonNode?> ReadReplyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = _buffer.AsMemory(_start, newline - _start);
                _start = newline + 1;
                return JsonNode.Parse(line.Span);
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= MaxReplyBytes)
                {
                    throw new InvalidOperationException($"a reply longer than {MaxReplyBytes >> 20} MiB");
                }

                var bigger = new byte[_buffer.Length * 2];
                Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
                _buffer = bigger;
            }

            // A pipe read is not interrupted by a token: the wait is, and the caller then kills the worker, which
            // ends the read.
            var read = await _replies.ReadAsync(_buffer.AsMemory(_end), CancellationToken.None).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                IsBroken = true;
                return null;
            }

            _end += read;
        }
    }

    /// <summary>What the worker writes outside requests (between files) goes to the silo's log.</summary>
    private async Task PumpStderrAsync()
    {
        var buffer = new char[4096];
        var reader = _process.StandardError;
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                foreach (var line in new string(buffer, 0, read).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    LogOutput(_logger, Pid, line.TrimEnd('\r'));
                    lock (_recent)
                    {
                        _recent.Enqueue(line.TrimEnd('\r'));
                        if (_recent.Count > 5)
                        {
                            _recent.Dequeue();
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The worker is gone.
        }
    }

    private async Task<string> ExitDescriptionAsync()
    {
        IsBroken = true;
        try
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            return "stopped answering";
        }

        var code = _process.ExitCode;
        return code > 128 ? $"was killed by signal {code - 128}" : $"exited with code {code}";
    }

    /// <summary>The last lines the worker wrote to stderr, for a start failure's message.</summary>
    private string RecentStderr()
    {
        // Give the pump a moment: the lines of a process that just exited may still be in the pipe.
        _stderr?.Wait(TimeSpan.FromSeconds(1));
        lock (_recent)
        {
            return _recent.Count == 0 ? "" : ": " + string.Join(" | ", _recent.Select(Truncate));
        }
    }

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "…" : text;

    [LoggerMessage(1, LogLevel.Information, "Started Python worker {Pid} for {Pool} (Python {Version})")]
    private static partial void LogStarted(ILogger logger, int pid, string pool, string version);

    [LoggerMessage(2, LogLevel.Information, "Python worker {Pid}: {Line}")]
    private static partial void LogOutput(ILogger logger, int pid, string line);
}
