namespace Orleans.CastIron.Processing.Python;

/// <summary>How Python processors and payload handlers run on this silo (section <c>CastIron:Python</c>).</summary>
public sealed class PythonOptions
{
    /// <summary>The interpreter: a name looked up on <c>PATH</c> or a path. Default <c>python3</c>.</summary>
    public string Executable { get; set; } = "python3";

    /// <summary>
    /// Folders put on <c>sys.path</c> before <c>PYTHONPATH</c> (which is honoured too), separated by <c>:</c>, e.g. the
    /// folder holding the user's <c>etl/</c> package. Relative folders are taken from the silo's working folder.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>
    /// Payload handlers (<c>worker_run_method</c> of a text or video payload) that may run on Python, separated by
    /// commas: exact names (<c>etl.example.example_text_stream_processor.process</c>) or module prefixes ending in a
    /// dot (<c>etl.example.</c>). Empty by default: a message cannot make a silo import and call whatever it names
    /// (seed bug B-28).
    /// </summary>
    public string? AllowedHandlers { get; set; }

    /// <summary>
    /// Python worker processes on this silo at most, busy or warm. Default 0: the processing slots
    /// (<c>CastIron:Processing:MaxConcurrency</c>) plus the cores, for payload handlers.
    /// </summary>
    public int MaxWorkers { get; set; }

    /// <summary>
    /// Resident memory a worker may reach, in MiB; a worker past it is killed (its file's attempt fails saying so) and
    /// replaced. 0: no limit. Default 2048.
    /// </summary>
    public int MemoryLimitMiB { get; set; } = 2048;

    /// <summary>A warm worker unused this long is stopped. Default 5 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Files a worker processes before it is replaced by a fresh one (modules re-imported, so changed code is picked
    /// up). Default 1000; 0: no limit.
    /// </summary>
    public int MaxRequestsPerWorker { get; set; } = 1000;

    /// <summary>How long a new worker may take to start and say hello. Default 30 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The folders of <see cref="Path"/>, full paths.</summary>
    public IReadOnlyList<string> PathFolders => Split(Path, ':').Select(System.IO.Path.GetFullPath).ToList();

    /// <summary>The entries of <see cref="AllowedHandlers"/>.</summary>
    public IReadOnlyList<string> AllowedHandlerNames => Split(AllowedHandlers, ',');

    /// <summary>True when <paramref name="handler"/> may run on Python as a payload handler.</summary>
    public bool AllowsHandler(string handler) =>
        AllowedHandlerNames.Any(allowed => allowed.EndsWith('.') ? handler.StartsWith(allowed, StringComparison.Ordinal) : handler == allowed);

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Executable))
        {
            yield return $"CastIron:Python:{nameof(Executable)} must name the Python interpreter (e.g. python3)";
        }

        foreach (var folder in Split(Path, ':'))
        {
            if (!Directory.Exists(folder))
            {
                yield return $"CastIron:Python:{nameof(Path)}: the folder '{folder}' does not exist";
            }
        }

        foreach (var handler in AllowedHandlerNames)
        {
            if (!PythonNames.IsDottedName(handler.TrimEnd('.')))
            {
                yield return $"CastIron:Python:{nameof(AllowedHandlers)}: '{handler}' is not a dotted Python name (module.function, or a module prefix ending in '.')";
            }
        }

        if (MaxWorkers < 0)
        {
            yield return $"CastIron:Python:{nameof(MaxWorkers)} must not be negative (0 means the processing slots plus the cores)";
        }

        if (MemoryLimitMiB < 0)
        {
            yield return $"CastIron:Python:{nameof(MemoryLimitMiB)} must not be negative (0 means no limit)";
        }

        if (MaxRequestsPerWorker < 0)
        {
            yield return $"CastIron:Python:{nameof(MaxRequestsPerWorker)} must not be negative (0 means no limit)";
        }

        if (IdleTimeout <= TimeSpan.Zero || StartTimeout <= TimeSpan.Zero)
        {
            yield return $"CastIron:Python:{nameof(IdleTimeout)} and {nameof(StartTimeout)} must be positive";
        }
    }

    private static List<string> Split(string? text, char separator) =>
        [.. (text ?? "").Split(separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
