using System.Globalization;
using System.Text.RegularExpressions;
using Orleans.CastIron.Matching;
using Orleans.CastIron.Paths;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Orleans.CastIron.Config;

/// <summary>
/// Reads a processor config (seed-spec F-06) strictly: unknown keys, wrong types, missing required keys, bad stage
/// folders, patterns that do not compile and an unclear processor choice are all reported, each with the key, line
/// and column. Bad input never throws; it yields <see cref="ConfigParseResult.Errors"/>.
/// </summary>
public static partial class ProcessorConfigParser
{
    /// <summary>The dotted key of the processor table.</summary>
    public const string EtlTable = "castiron.etl";

    /// <summary>The largest config accepted, in bytes (1 MiB): larger ones are refused unread.</summary>
    public const int MaxConfigBytes = 1024 * 1024;

    /// <summary>Errors listed at most; one more entry counts the rest.</summary>
    public const int MaxErrors = 100;

    /// <summary>Parses and validates <paramref name="text"/>.</summary>
    /// <param name="text">The TOML document.</param>
    /// <param name="sourceName">Name used for the document in diagnostics (usually the object key).</param>
    public static ConfigParseResult Parse(string? text, string sourceName = "config.toml")
    {
        if (text is null)
        {
            return ConfigParseResult.Failure([new ConfigError(ConfigErrorCode.Syntax, "", 0, 0, "the config text is missing")]);
        }

        DocumentSyntax document;
        try
        {
            document = SyntaxParser.Parse(text, sourceName, validate: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The parser is meant to report, not throw; if it ever throws, the user still gets an error, not a crash.
            return ConfigParseResult.Failure([new ConfigError(ConfigErrorCode.Syntax, "", 0, 0, $"the TOML parser failed: {ex.Message}")]);
        }

        // Tomlyn's own redefinition check is unreliable on large inputs (see TomlNode): the tree checks instead.
        var syntaxErrors = document.Diagnostics
            .Where(d => d.Kind == DiagnosticMessageKind.Error && !DuplicateKeyRegex().IsMatch(d.Message))
            .ToList();
        if (syntaxErrors.Count > 0)
        {
            return Failure(syntaxErrors.Select(ToConfigError));
        }

        var duplicates = new List<ConfigError>();
        var root = TomlNode.Build(document, duplicates);
        if (duplicates.Count > 0)
        {
            // As with syntax errors, the schema is not read: a redefined table would only add follow-on errors.
            return Failure(duplicates);
        }

        var errors = new List<ConfigError>();
        var config = ReadDocument(root, errors);
        return errors.Count == 0 && config is not null
            ? ConfigParseResult.Success(config)
            : Failure(errors);
    }

    /// <summary>
    /// At most <see cref="MaxErrors"/> errors in text order, then one entry saying how many more there were: a large
    /// hostile document must not produce an error list larger than itself.
    /// </summary>
    private static ConfigParseResult Failure(IEnumerable<ConfigError> errors)
    {
        var ordered = errors.OrderBy(e => e.Line == 0 ? int.MaxValue : e.Line).ThenBy(e => e.Column).ToList();
        if (ordered.Count <= MaxErrors)
        {
            return ConfigParseResult.Failure(ordered);
        }

        var more = ordered.Count - MaxErrors;
        var first = ordered[MaxErrors];
        return ConfigParseResult.Failure([
            .. ordered.Take(MaxErrors),
            new ConfigError(first.Code, "", 0, 0, $"{more} more errors not listed (only the first {MaxErrors} are)"),
        ]);
    }

    private static ConfigError ToConfigError(DiagnosticMessage diagnostic) => new(
        ConfigErrorCode.Syntax,
        "",
        diagnostic.Span.Start.Line + 1,
        diagnostic.Span.Start.Column + 1,
        diagnostic.Message.Replace('\u2424', ' '));

    private static ProcessorConfig? ReadDocument(TomlNode root, List<ConfigError> errors)
    {
        var top = new TableReader(root, errors);
        var title = top.String("title");
        var castiron = top.Table("castiron", required: true);
        top.ReportUnknownKeys();
        if (castiron is null)
        {
            return null;
        }

        var castironReader = new TableReader(castiron, errors);
        var etl = castironReader.Table("etl", required: true);
        castironReader.ReportUnknownKeys();
        if (etl is null)
        {
            return null;
        }

        var reader = new TableReader(etl, errors);
        var enabled = reader.Bool("enabled", required: true);
        var glob = reader.String("handled_file_glob", required: true);
        var mimeTypes = reader.String("handled_mimetypes");
        var stages = new List<(string Key, TomlNode Node, string Folder)>();
        var inbox = reader.StageFolder("inbox_dir", required: true, stages);
        var processing = reader.StageFolder("processing_dir", required: true, stages);
        var archive = reader.StageFolder("archive_dir", required: false, stages);
        var error = reader.StageFolder("error_dir", required: true, stages);
        var canceled = reader.StageFolder("canceled_dir", required: false, stages) ?? ProcessorConfigDefaults.CanceledDir;
        var saveErrorLog = reader.Bool("save_error_log", required: true);
        var shell = reader.String("shell");
        var timeout = reader.PositiveNumber("timeout_seconds");
        var maxAttempts = reader.Integer("max_attempts", min: 1, max: 1000);
        var maxConcurrency = reader.Integer("max_concurrency", min: 1, max: 100_000);
        var pythonNode = reader.Table("python");
        var dotnetNode = reader.Table("dotnet");
        reader.ReportUnknownKeys();

        if (glob is not null && !HandledFilePattern.TryCreate(glob, out _, out var patternProblem))
        {
            var node = etl["handled_file_glob"]!;
            errors.Add(new ConfigError(ConfigErrorCode.InvalidPattern, node.Path, node.ValueLine, node.ValueColumn, patternProblem!));
        }

        ReportRepeatedStageFolders(stages, errors);

        var python = pythonNode is null ? null : ReadPython(pythonNode, errors);
        var dotnet = dotnetNode is null ? null : ReadDotnet(dotnetNode, errors);
        if (string.IsNullOrWhiteSpace(shell))
        {
            // The seed treats an empty shell string as absent.
            shell = null;
        }

        var chosen = new List<string>();
        if (shell is not null)
        {
            chosen.Add("shell");
        }

        if (pythonNode is not null)
        {
            chosen.Add("python");
        }

        if (dotnetNode is not null)
        {
            chosen.Add("dotnet");
        }

        if (chosen.Count != 1)
        {
            errors.Add(new ConfigError(
                ConfigErrorCode.ProcessorChoice,
                EtlTable,
                etl.Line,
                etl.Column,
                chosen.Count == 0
                    ? "none of shell / python / dotnet is set: set exactly one to say what processes the files"
                    : $"{string.Join(" and ", chosen)} are both set: set exactly one of shell / python / dotnet"));
        }

        if (enabled is null || glob is null || inbox is null || processing is null || error is null || saveErrorLog is null)
        {
            return null;
        }

        return new ProcessorConfig
        {
            Title = title,
            Enabled = enabled.Value,
            HandledFileGlob = glob,
            HandledMimeTypes = mimeTypes is null
                ? []
                : [.. mimeTypes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)],
            InboxDir = inbox,
            ProcessingDir = processing,
            ArchiveDir = archive,
            ErrorDir = error,
            CanceledDir = canceled,
            SaveErrorLog = saveErrorLog.Value,
            Shell = shell,
            Python = python,
            Dotnet = dotnet,
            TimeoutSeconds = timeout,
            MaxAttempts = maxAttempts,
            MaxConcurrency = maxConcurrency,
        };
    }

    private static void ReportRepeatedStageFolders(List<(string Key, TomlNode Node, string Folder)> stages, List<ConfigError> errors)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node, folder) in stages)
        {
            if (seen.TryGetValue(folder, out var first))
            {
                errors.Add(new ConfigError(ConfigErrorCode.InvalidStageFolder, node.Path, node.ValueLine, node.ValueColumn,
                    $"'{folder}' is already used by {first}; every stage needs its own folder"));
            }
            else
            {
                seen[folder] = key;
            }
        }

        // canceled_dir defaults to 05_canceled; a stage explicitly using that name would collide with it.
        if (!stages.Any(s => s.Key == "canceled_dir") && seen.TryGetValue(ProcessorConfigDefaults.CanceledDir, out var user))
        {
            var node = stages.First(s => s.Key == user).Node;
            errors.Add(new ConfigError(ConfigErrorCode.InvalidStageFolder, node.Path, node.ValueLine, node.ValueColumn,
                $"'{ProcessorConfigDefaults.CanceledDir}' is the default canceled_dir; set canceled_dir to another folder or pick another name"));
        }
    }

    private static PythonProcessorConfig? ReadPython(TomlNode node, List<ConfigError> errors)
    {
        var reader = new TableReader(node, errors);
        var runMethod = reader.NonEmptyString("worker_run_method", required: true);
        var workerClass = reader.NonEmptyString("worker_class");
        var setupMethod = reader.NonEmptyString("worker_setup_method");
        var supportsTracker = reader.Bool("supports_pizza_tracker") ?? false;
        var supportsMetadata = reader.Bool("supports_metadata") ?? false;
        var staticKwargs = reader.AnyTable("static_kwargs");
        var environmentKwargs = reader.EnvironmentTable("environment_kwargs");
        reader.ReportUnknownKeys();
        if (setupMethod is not null && workerClass is null)
        {
            var setup = node["worker_setup_method"]!;
            errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, setup.Path, setup.Line, setup.Column,
                "worker_setup_method needs worker_class: a set-up method belongs to a class"));
        }

        return runMethod is null
            ? null
            : new PythonProcessorConfig
            {
                WorkerRunMethod = runMethod,
                WorkerClass = workerClass,
                WorkerSetupMethod = setupMethod,
                SupportsPizzaTracker = supportsTracker,
                SupportsMetadata = supportsMetadata,
                StaticKwargs = staticKwargs,
                EnvironmentKwargs = environmentKwargs,
            };
    }

    private static DotnetProcessorConfig? ReadDotnet(TomlNode node, List<ConfigError> errors)
    {
        var reader = new TableReader(node, errors);
        var processor = reader.NonEmptyString("processor", required: true);
        var options = reader.AnyTable("options");
        var staticKwargs = reader.AnyTable("static_kwargs");
        var environmentKwargs = reader.EnvironmentTable("environment_kwargs");
        reader.ReportUnknownKeys();
        return processor is null
            ? null
            : new DotnetProcessorConfig
            {
                Processor = processor,
                Options = options,
                StaticKwargs = staticKwargs,
                EnvironmentKwargs = environmentKwargs,
            };
    }

    [GeneratedRegex("The key `[^`]*` is already defined")]
    private static partial Regex DuplicateKeyRegex();

    /// <summary>Reads the keys of one table, records what was read and reports every problem.</summary>
    private sealed class TableReader(TomlNode table, List<ConfigError> errors)
    {
        private readonly HashSet<string> _known = new(StringComparer.Ordinal);

        public bool? Bool(string name, bool required = false) =>
            Value(name, required, "a boolean (true or false)", v => v is BooleanValueSyntax b ? b.Value : (bool?)null);

        public string? String(string name, bool required = false) =>
            Value(name, required, "a string", v => v is StringValueSyntax s ? s.Value : null);

        public string? NonEmptyString(string name, bool required = false)
        {
            var value = String(name, required);
            if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                var node = table[name]!;
                errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn, "must not be empty"));
                return null;
            }

            return value;
        }

        public string? StageFolder(string name, bool required, List<(string Key, TomlNode Node, string Folder)> stages)
        {
            var raw = String(name, required);
            if (raw is null)
            {
                return null;
            }

            var node = table[name]!;
            if (!Paths.StageFolder.TryNormalize(raw, out var folder, out var problem))
            {
                errors.Add(new ConfigError(ConfigErrorCode.InvalidStageFolder, node.Path, node.ValueLine, node.ValueColumn, problem!));
                return null;
            }

            stages.Add((name, node, folder));
            return folder;
        }

        public double? PositiveNumber(string name)
        {
            var value = Value(name, required: false, "a number of seconds", v => v switch
            {
                IntegerValueSyntax i => i.Value,
                FloatValueSyntax f => f.Value,
                _ => (double?)null,
            });
            if (value is { } seconds && (!double.IsFinite(seconds) || seconds <= 0))
            {
                var node = table[name]!;
                errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn,
                    $"must be a positive number of seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}"));
                return null;
            }

            return value;
        }

        public int? Integer(string name, int min, int max)
        {
            var value = Value(name, required: false, "an integer", v => v is IntegerValueSyntax i ? i.Value : (long?)null);
            if (value is { } number && (number < min || number > max))
            {
                var node = table[name]!;
                errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn,
                    $"must be between {min} and {max}, not {number}"));
                return null;
            }

            return (int?)value;
        }

        public TomlNode? Table(string name, bool required = false)
        {
            _known.Add(name);
            var node = table[name];
            if (node is null)
            {
                if (required)
                {
                    errors.Add(Missing(name, $"the [{Join(name)}] table is missing"));
                }

                return null;
            }

            if (!node.IsTable)
            {
                errors.Add(new ConfigError(ConfigErrorCode.WrongType, node.Path, node.Line, node.Column, $"must be a table ([{node.Path}])"));
                return null;
            }

            return node;
        }

        public ImmutableDictionary<string, object?> AnyTable(string name)
        {
            var node = Table(name);
            return node is null ? ImmutableDictionary<string, object?>.Empty : ToDictionary(node);
        }

        public ImmutableDictionary<string, string> EnvironmentTable(string name)
        {
            var node = Table(name);
            if (node is null)
            {
                return ImmutableDictionary<string, string>.Empty;
            }

            var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            foreach (var (argument, child) in node.Children)
            {
                if (child.Value is StringValueSyntax { Value: { } variable } && variable.Length > 0 && !variable.Contains('=', StringComparison.Ordinal))
                {
                    builder[argument] = variable;
                }
                else
                {
                    errors.Add(new ConfigError(ConfigErrorCode.WrongType, child.Path, child.ValueLine, child.ValueColumn,
                        "must be the name of an environment variable (a non-empty string without '=')"));
                }
            }

            return builder.ToImmutable();
        }

        public void ReportUnknownKeys()
        {
            foreach (var (name, node) in table.Children)
            {
                if (!_known.Contains(name))
                {
                    var expected = string.Join(", ", _known.Order(StringComparer.Ordinal));
                    errors.Add(new ConfigError(ConfigErrorCode.UnknownKey, node.Path, node.Line, node.Column,
                        $"unknown key '{name}'" + (table.Path.Length == 0 ? "" : $" in [{table.Path}]") + $"; expected one of: {expected}"));
                }
            }
        }

        private T? Value<T>(string name, bool required, string expected, Func<ValueSyntax, T?> read)
        {
            _known.Add(name);
            var node = table[name];
            if (node is null)
            {
                if (required)
                {
                    errors.Add(Missing(name, $"required key '{name}' is missing ({expected})"));
                }

                return default;
            }

            var value = node.Value is null ? default : read(node.Value);
            if (value is null)
            {
                errors.Add(new ConfigError(ConfigErrorCode.WrongType, node.Path, node.ValueLine, node.ValueColumn,
                    $"must be {expected}, not {Describe(node)}"));
            }

            return value;
        }

        private ConfigError Missing(string name, string message) =>
            new(ConfigErrorCode.MissingKey, Join(name), table.Line, table.Column, message);

        private string Join(string name) => table.Path.Length == 0 ? name : $"{table.Path}.{name}";

        private static string Describe(TomlNode node) => node.IsTable ? "a table" : node.Value switch
        {
            null => "an array of tables",
            StringValueSyntax => "a string",
            BooleanValueSyntax => "a boolean",
            IntegerValueSyntax => "an integer",
            FloatValueSyntax => "a float",
            ArraySyntax => "an array",
            DateTimeValueSyntax => "a date-time",
            _ => "a value of another type",
        };

        private static ImmutableDictionary<string, object?> ToDictionary(TomlNode node)
        {
            var builder = ImmutableDictionary.CreateBuilder<string, object?>(StringComparer.Ordinal);
            foreach (var (name, child) in node.Children)
            {
                builder[name] = child.IsTable ? ToDictionary(child) : ToValue(child.Value);
            }

            return builder.ToImmutable();
        }

        private static object? ToValue(ValueSyntax? value) => value switch
        {
            StringValueSyntax s => s.Value,
            BooleanValueSyntax b => b.Value,
            IntegerValueSyntax i => i.Value,
            FloatValueSyntax f => f.Value,
            DateTimeValueSyntax d => d.Token?.Text,
            ArraySyntax a => a.Items.Select(item => ToValue(item.Value)).ToImmutableArray(),
            InlineTableSyntax t => t.Items
                .Where(i => i.KeyValue is not null)
                .ToImmutableDictionary(i => i.KeyValue!.Key!.ToString().Trim(), i => ToValue(i.KeyValue!.Value), StringComparer.Ordinal),
            _ => null,
        };
    }
}
