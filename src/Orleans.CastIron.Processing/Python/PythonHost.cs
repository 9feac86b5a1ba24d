using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Config;
using Orleans.CastIron.Processing.Tracking;
using Orleans.CastIron.Tracking;

namespace Orleans.CastIron.Processing.Python;

/// <summary>How a Python request ended.</summary>
/// <param name="Failure">Null on success; else what went wrong, for the error log and the file's status.</param>
/// <param name="Runtime">Which interpreter ran it, e.g. <c>Python 3.11.2 (worker 4242)</c>.</param>
/// <param name="Retryable">A failure another attempt may not repeat (not so for code that cannot be imported).</param>
public sealed record PythonOutcome(string? Failure, string Runtime, bool Retryable = true);

/// <summary>
/// Runs Python processors and payload handlers on the silo's warm workers (<see cref="PythonWorkerPool"/>), with the
/// seed's calling rules (seed-spec F-14, F-23). A request's stdout and stderr land in a file of its own, read back into
/// the output tail; a Python exception fails the request with its traceback there.
/// </summary>
public sealed partial class PythonHost(PythonWorkerPool pool, IOptions<PythonOptions> options, ILogger<PythonHost> logger)
{
    /// <summary>The file a request's output goes to, inside its job folder.</summary>
    public const string OutputFileName = ".castiron-output";

    /// <summary>
    /// True when the module of <paramref name="dotted"/> is in a folder of <c>CastIron:Python:Path</c> or
    /// <c>PYTHONPATH</c>: where a built-in .NET stand-in gives way to the user's (or the seed's) Python code.
    /// </summary>
    public bool FindsModule(string dotted)
    {
        var folders = options.Value.PathFolders.Concat(
            (Environment.GetEnvironmentVariable("PYTHONPATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        return PythonNames.IsInFolders(dotted, folders);
    }

    /// <summary>True when a payload's <c>worker_run_method</c> may run on Python (<c>CastIron:Python:AllowedHandlers</c>).</summary>
    public bool AllowsHandler(string handler) => options.Value.AllowsHandler(handler);

    /// <summary>
    /// Runs a file processor on the copy at <paramref name="localPath"/> in job folder <paramref name="folder"/>, with
    /// the named arguments already resolved (<c>static_kwargs</c> then <c>environment_kwargs</c>).
    /// </summary>
    public async Task<PythonOutcome> RunFileAsync(
        string configKey,
        PythonProcessorConfig python,
        string jobId,
        string folder,
        string localPath,
        IReadOnlyDictionary<string, object?> namedArguments,
        IReadOnlyDictionary<string, string> metadata,
        Func<PizzaTrackerCommand, Task> onTracker,
        OutputTail output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(python);
        var extra = new JsonObject();
        PizzaTrackerFifo? tracker = null;
        if (python.SupportsPizzaTracker)
        {
            tracker = await PizzaTrackerFifo.OpenAsync(folder, onTracker, logger).ConfigureAwait(false);
            extra["pizza_tracker"] = tracker.Path;
            extra["pizza_job_id"] = jobId;
        }

        if (python.SupportsMetadata)
        {
            extra["file_metadata"] = JsonSerializer.SerializeToNode(metadata);
        }

        var request = new JsonObject
        {
            ["type"] = "run",
            ["id"] = jobId,
            ["target"] = new JsonObject
            {
                ["class"] = python.WorkerClass,
                ["method"] = python.WorkerRunMethod,
                ["setup"] = python.WorkerSetupMethod,
            },
            ["path"] = localPath,
            ["kwargs"] = JsonSerializer.SerializeToNode(namedArguments),
            ["extra"] = extra,
            ["cwd"] = folder,
            ["output"] = Path.Combine(folder, OutputFileName),
            ["fifo"] = tracker?.Path,
        };
        try
        {
            return await RequestAsync("file:" + configKey, request, folder, output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (tracker is not null)
            {
                await tracker.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Calls payload handler <paramref name="handler"/> as the seed did: <c>handler(data=..., **other_fields)</c>, in a
    /// scratch folder under <paramref name="workRoot"/>; its output goes to <paramref name="output"/>.
    /// </summary>
    public async Task<PythonOutcome> CallHandlerAsync(string handler, JsonObject keywordArguments, string workRoot, OutputTail output, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(workRoot, $"p{Environment.ProcessId}-payload-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var request = new JsonObject
            {
                ["type"] = "call",
                ["id"] = Path.GetFileName(folder),
                ["callable"] = handler,
                ["kwargs"] = keywordArguments,
                ["cwd"] = folder,
                ["output"] = Path.Combine(folder, OutputFileName),
            };
            return await RequestAsync("payload", request, folder, output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Left for the job-folder cleanup (named after this process).
            }
        }
    }

    private async Task<PythonOutcome> RequestAsync(string poolKey, JsonObject request, string folder, OutputTail output, CancellationToken cancellationToken)
    {
        try
        {
            return await RunOnWorkerAsync(poolKey, request, folder, output, cancellationToken).ConfigureAwait(false);
        }
        catch (PythonWorkerException ex)
        {
            // No worker could be started (no interpreter, a broken one, a start timeout).
            return new PythonOutcome(ex.Message, "Python (no worker started)");
        }
    }

    private Task<PythonOutcome> RunOnWorkerAsync(string poolKey, JsonObject request, string folder, OutputTail output, CancellationToken cancellationToken)
    {
        var limit = (long)options.Value.MemoryLimitMiB << 20;
        return pool.RunAsync<PythonOutcome>(poolKey, async worker =>
        {
            var runtime = $"Python {worker.PythonVersion} (worker {worker.Pid})";
            try
            {
                var reply = await worker.RequestAsync(request, limit, cancellationToken).ConfigureAwait(false);
                if (reply.FifoOpen)
                {
                    // It would keep the tracker's reader waiting, for this file and the next: a fresh worker instead.
                    LogFifoHeld(worker.Pid);
                    worker.Kill();
                }

                if (reply.LeftRunning > 0)
                {
                    LogLeftRunning(worker.Pid, reply.LeftRunning);
                }

                var failure = reply.Ok ? null
                    : reply.Stage == "import" ? $"could not load the Python code: {reply.Error}"
                    : $"the Python code raised {reply.Error}";
                return (new PythonOutcome(failure, runtime, Retryable: reply.Stage != "import"), reply.FifoOpen);
            }
            catch (PythonWorkerException ex)
            {
                return (new PythonOutcome(ex.Message, runtime), true);
            }
            finally
            {
                ReadOutput(Path.Combine(folder, OutputFileName), output);
            }
        }, cancellationToken);
    }

    /// <summary>Copies the end of a request's output file into the tail (it may be far larger than the tail keeps).</summary>
    private static void ReadOutput(string path, OutputTail output)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var keep = (long)output.Capacity * 2;
            if (file.Length > keep)
            {
                file.Seek(-keep, SeekOrigin.End);
                output.AppendLine($"[... {file.Length - keep} bytes of earlier output dropped ...]");
            }

            using var reader = new StreamReader(file, Encoding.UTF8);
            using var writer = output.CreateWriter();
            var buffer = new char[8192];
            int read;
            while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                writer.Write(buffer, 0, read);
            }
        }
        catch (FileNotFoundException)
        {
            // The worker died before it opened the file.
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "A Python processor kept the pizza-tracker FIFO open after returning; worker {Pid} was replaced so the tracker could be drained (close the FIFO, e.g. with a 'with' block)")]
    private partial void LogFifoHeld(int pid);

    [LoggerMessage(2, LogLevel.Information, "Python worker {Pid}: the request left {Count} process(es) running; they were killed")]
    private partial void LogLeftRunning(int pid, int count);
}
