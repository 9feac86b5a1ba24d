using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Spectre.Console;

namespace Orleans.CastIron.Cli;

/// <summary>
/// What the commands print: tables and colour for a person at a terminal (colour off with <c>NO_COLOR</c>), plain lines
/// when stdout is not a terminal, JSON (the REST API's field names) with <c>--json</c>. Every text that comes from
/// the cluster is escaped before it reaches markup, so a file named <c>[red]x</c> prints as itself.
/// </summary>
internal sealed class Output
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    private static readonly JsonSerializerOptions JsonLine = new(JsonOptions) { WriteIndented = false };

    public Output(TextWriter stdout, TextWriter stderr, bool terminal, IReadOnlyDictionary<string, string?>? environment = null, Stream? stdin = null)
    {
        Environment = environment;
        _stdin = stdin;
        Out = stdout;
        Err = stderr;
        IsTerminal = terminal;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
        });
    }

    private readonly Stream? _stdin;

    public TextWriter Out { get; }

    /// <summary>Standard input (what <c>submit -</c> uploads).</summary>
    public Stream Input => _stdin ?? System.Console.OpenStandardInput();

    /// <summary>Settings' variables in place of the process's, or null.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; }

    public TextWriter Err { get; }

    /// <summary>True when a person reads stdout at a terminal.</summary>
    public bool IsTerminal { get; }

    public IAnsiConsole Console { get; }

    public void Error(string message) => Err.WriteLine($"castiron: {message}");

    public void WriteJson<T>(T value, bool oneLine = false) => Out.WriteLine(JsonSerializer.Serialize(value, oneLine ? JsonLine : JsonOptions));

    public void Submitted(string name, SubmittedFile file, bool json)
    {
        if (json)
        {
            WriteJson(file, oneLine: true);
        }
        else if (IsTerminal)
        {
            Console.MarkupLine($"[green]submitted[/] {Markup.Escape(name)} as [bold]{file.FileId}[/] ({Markup.Escape(file.Key)})");
        }
        else
        {
            Out.WriteLine($"submitted\t{name}\t{file.FileId}\t{file.Key}");
        }
    }

    public void File(FileStatusRecord record, bool json)
    {
        if (json)
        {
            WriteJson(record);
            return;
        }

        if (!IsTerminal)
        {
            Out.WriteLine(Line(record));
            return;
        }

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[grey]id[/]", Markup.Escape(record.Id));
        grid.AddRow("[grey]file[/]", Markup.Escape(record.OriginalFilename));
        grid.AddRow("[grey]status[/]", StatusMarkup(record.Status));
        grid.AddRow("[grey]config[/]", Markup.Escape(record.ConfigKey ?? "-"));
        grid.AddRow("[grey]object[/]", Markup.Escape(record.FileName));
        grid.AddRow("[grey]attempts[/]", $"{record.Attempts}");
        grid.AddRow("[grey]updated[/]", $"{record.UpdatedAt:u}");
        if (record.Reason is { } reason)
        {
            grid.AddRow("[grey]reason[/]", Markup.Escape(reason));
        }

        Console.Write(grid);
    }

    public void Files(IReadOnlyList<FileStatusRecord> records, bool json)
    {
        if (json)
        {
            WriteJson(records);
            return;
        }

        if (!IsTerminal)
        {
            foreach (var record in records)
            {
                Out.WriteLine(Line(record));
            }

            return;
        }

        var table = new Table().AddColumns("id", "file", "status", "attempts", "updated", "config");
        foreach (var r in records)
        {
            table.AddRow(Markup.Escape(r.Id), Markup.Escape(r.OriginalFilename), StatusMarkup(r.Status), $"{r.Attempts}", $"{r.UpdatedAt:u}", Markup.Escape(r.ConfigKey ?? "-"));
        }

        Console.Write(table);
        Console.MarkupLine($"[grey]{records.Count} file(s)[/]");
    }

    public void Command(CommandResult result, bool json)
    {
        if (json)
        {
            WriteJson(result, oneLine: true);
        }
        else if (result.Accepted)
        {
            Out.WriteLine(result.Message);
        }
        else
        {
            Error(result.Message);
        }
    }

    public void Configs(IReadOnlyList<RegisteredConfig> configs, bool json)
    {
        if (json)
        {
            WriteJson(configs.Select(c => new { c.ConfigKey, c.Registered, c.Errors, c.UpdatedAt, c.Warnings }));
            return;
        }

        if (!IsTerminal)
        {
            foreach (var c in configs)
            {
                Out.WriteLine($"{c.ConfigKey}\t{(c.Registered ? "registered" : "not registered")}\t{string.Join("; ", c.Errors.Concat(c.Warnings).Select(e => e.ToString()))}");
            }

            return;
        }

        var table = new Table().AddColumns("config", "registered", "problems");
        foreach (var c in configs)
        {
            table.AddRow(Markup.Escape(c.ConfigKey), c.Registered ? "[green]yes[/]" : "[red]no[/]", Markup.Escape(string.Join("\n",
                c.Errors.Select(e => $"{e.Line}:{e.Column} {e.Message}").Concat(c.Warnings.Select(w => $"{w.Line}:{w.Column} warning: {w.Message}")))));
        }

        Console.Write(table);
    }

    /// <summary>
    /// Like a compiler: <c>file:line:column: error: key: message</c> (then the warnings, forms the seed accepted), the
    /// line, and the column marked.
    /// </summary>
    public void Validation(string name, string text, ConfigParseResult result, bool json)
    {
        if (json)
        {
            WriteJson(new { Valid = result.IsValid, result.Errors, result.Warnings });
            return;
        }

        var lines = text.Split('\n');
        foreach (var (error, kind) in result.Errors.Select(e => (e, "error")).Concat(result.Warnings.Select(w => (w, "warning"))))
        {
            var where = $"{name}:{error.Line}:{error.Column}";
            var key = error.Key.Length > 0 ? $"{error.Key}: " : "";
            if (IsTerminal)
            {
                Console.MarkupLine($"[bold]{Markup.Escape(where)}:[/] [{(kind == "error" ? "red" : "yellow")}]{kind}:[/] {Markup.Escape(key + error.Message)}");
            }
            else
            {
                Out.WriteLine($"{where}: {kind}: {key}{error.Message}");
            }

            if (error.Line >= 1 && error.Line <= lines.Length)
            {
                var line = lines[error.Line - 1].TrimEnd('\r');
                var column = Math.Clamp(error.Column, 1, line.Length + 1);
                Out.WriteLine($"  {line}");
                // The marker under the offending value: from its column to the end of its token.
                var length = Math.Max(1, line.Length >= column ? line[(column - 1)..].TakeWhile(c => c is not (' ' or '\t' or '#')).Count() : 1);
                Out.WriteLine($"  {new string(' ', column - 1)}^{new string('~', length - 1)}");
            }
        }

        if (result.IsValid)
        {
            Out.WriteLine(result.Warnings.IsDefaultOrEmpty ? $"{name}: valid" : $"{name}: valid, with {result.Warnings.Length} warning(s)");
        }
    }

    public void Payload(PayloadSendResult result, bool json)
    {
        if (json)
        {
            WriteJson(result, oneLine: true);
        }
        else
        {
            if (result.SentTo is { } sentTo)
            {
                Out.WriteLine($"sent to {sentTo}");
            }

            if (result.Handled)
            {
                Out.WriteLine(result.HandledAt is { } at ? $"handled ({at})" : "handled");
            }
            else if (result.Problem is { } problem)
            {
                Error($"not handled: {problem}");
            }
        }
    }

    public void Cluster(ClusterStatus status, bool json)
    {
        if (json)
        {
            WriteJson(status);
            return;
        }

        var files = status.Files is { } counts ? string.Join(", ", counts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value}")) : status.StatusStoreProblem ?? "";
        if (!IsTerminal)
        {
            foreach (var silo in status.Silos)
            {
                Out.WriteLine($"silo\t{silo.Address}\t{silo.Status}");
            }

            Out.WriteLine($"intake\t{(status.IntakePaused ? "paused" : "running")}");
            Out.WriteLine($"files\t{files}");
            foreach (var p in status.Kafka?.Partitions ?? [])
            {
                Out.WriteLine($"partition\t{p.Topic}\t{p.Partition}\t{p.Silo}\t{p.Committed}\t{p.HighWatermark}\t{p.Lag}{(p.Held is { } h ? $"\theld at {h.Offset}: {h.Reason}" : "")}");
            }

            return;
        }

        var silos = new Table().AddColumns("silo", "status");
        foreach (var silo in status.Silos)
        {
            silos.AddRow(Markup.Escape(silo.Address), Markup.Escape(silo.Status));
        }

        Console.Write(silos);
        Console.MarkupLine($"intake: {(status.IntakePaused ? "[yellow]paused[/]" : "[green]running[/]")}   bucket: {Markup.Escape(status.Bucket)}   files: {Markup.Escape(files.Length == 0 ? "none" : files)}");
        if (status.Kafka is { } kafka)
        {
            var partitions = new Table().AddColumns("topic", "partition", "silo", "committed", "end", "lag", "held");
            foreach (var p in kafka.Partitions)
            {
                partitions.AddRow(Markup.Escape(p.Topic), $"{p.Partition}", Markup.Escape(p.Silo ?? "-"), $"{p.Committed}", $"{p.HighWatermark}", p.Lag is > 0 ? $"[yellow]{p.Lag}[/]" : $"{p.Lag}", p.Held is { } h ? $"[red]{h.Offset}[/] {Markup.Escape(h.Reason)}" : "");
            }

            Console.Write(partitions);
            Console.MarkupLine($"kafka: {(kafka.Paused ? "[yellow]paused[/]" : "[green]reading[/]")}");
        }
    }

    public static string StatusMarkup(FileStatus status) => status switch
    {
        FileStatus.Complete => "[green]Complete[/]",
        FileStatus.Failed => "[red]Failed[/]",
        FileStatus.Canceled => "[yellow]Canceled[/]",
        _ => $"[blue]{status}[/]",
    };

    private static string Line(FileStatusRecord r) =>
        $"{r.Id}\t{r.Status}\t{r.OriginalFilename}\t{r.Attempts}\t{r.UpdatedAt:u}\t{r.ConfigKey}";
}
