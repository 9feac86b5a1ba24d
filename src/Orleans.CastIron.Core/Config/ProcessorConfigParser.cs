using System.Globalization;
using System.Text.RegularExpressions;
using Orleans.CastIron.Matching;
using Orleans.CastIron.Paths;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Orleans.CastIron.Config;

/// <summary>
/// Reads a processor config (seed-spec F-06): wrong types, missing required keys, bad stage folders, patterns that do
/// not compile and an unclear processor choice are errors, each with the key, line and column. What the seed accepted
/// (unknown keys, quoted booleans and numbers, <c>shell</c> next to <c>python</c>, ...) loads as the seed read it, with
/// a warning saying so; in strict mode those are errors too. Bad input never throws; it yields
/// <see cref="ConfigParseResult.Errors"/>.
/// </summary>
public static partial class ProcessorConfigParser
{
    /// <summary>The dotted key of the processor table.</summary>
    public const string EtlTable = "castiron.etl";

    /// <summary>The largest config accepted, in bytes (1 MiB): larger ones are refused unread.</summary>
    public const int MaxConfigBytes = 1024 * 1024;

    /// <summary>Errors listed at most; one more entry counts the rest.</summary>
    public const int MaxErrors = 100;

    /// <summary>The setting that makes the seed's lenient forms errors; named in the messages that refuse them.</summary>
    public const string StrictSetting = "CastIron:StrictConfigs";

    /// <summary>Parses and validates <paramref name="text"/>.</summary>
    /// <param name="text">The TOML document.</param>
    /// <param name="sourceName">Name used for the document in diagnostics (usually the object key).</param>
    /// <param name="strict">Refuse, rather than warn about, the forms the seed accepted (<see cref="StrictSetting"/>).</param>
    public static ConfigParseResult Parse(string? text, string sourceName = "config.toml", bool strict = false)
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

        var report = new Report(strict);
        var config = ReadDocument(root, report);
        return report.Errors.Count == 0 && config is not null
            ? ConfigParseResult.Success(config, Capped(report.Warnings, "warnings"))
            : ConfigParseResult.Failure(Capped(report.Errors, "errors"), Capped(report.Warnings, "warnings"));
    }

    private static ConfigParseResult Failure(IEnumerable<ConfigError> errors) => ConfigParseResult.Failure(Capped(errors, "errors"));

    /// <summary>
    /// At most <see cref="MaxErrors"/> entries in text order, then one saying how many more there were: a large
    /// hostile document must not produce an error list larger than itself.
    /// </summary>
    private static List<ConfigError> Capped(IEnumerable<ConfigError> errors, string what)
    {
        var ordered = errors.OrderBy(e => e.Line == 0 ? int.MaxValue : e.Line).ThenBy(e => e.Column).ToList();
        if (ordered.Count <= MaxErrors)
        {
            return ordered;
        }

        var more = ordered.Count - MaxErrors;
        var first = ordered[MaxErrors];
        return [
            .. ordered.Take(MaxErrors),
            new ConfigError(first.Code, "", 0, 0, $"{more} more {what} not listed (only the first {MaxErrors} are)"),
        ];
    }

    private static ConfigError ToConfigError(DiagnosticMessage diagnostic) => new(
        ConfigErrorCode.Syntax,
        "",
        diagnostic.Span.Start.Line + 1,
        diagnostic.Span.Start.Column + 1,
        diagnostic.Message.Replace('\u2424', ' '));

    private static ProcessorConfig? ReadDocument(TomlNode root, Report report)
    {
        var errors = report.Errors;
        var top = new TableReader(root, report);
        var title = top.Documentation("title");
        var castiron = top.Table("castiron", required: true);
        top.ReportUnknownKeys();
        if (castiron is null)
        {
            return null;
        }

        var castironReader = new TableReader(castiron, report);
        var etl = castironReader.Table("etl", required: true);
        castironReader.ReportUnknownKeys();
        if (etl is null)
        {
            return null;
        }

        var reader = new TableReader(etl, report);
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

        var python = pythonNode is null ? null : ReadPython(pythonNode, report);
        var dotnet = dotnetNode is null ? null : ReadDotnet(dotnetNode, report);
        if (string.IsNullOrWhiteSpace(shell))
        {
            // The seed treats an empty shell string as absent.
            shell = null;
        }

        if (shell is not null && pythonNode is not null && dotnetNode is null)
        {
            // The seed ran python and never looked at shell (seed-spec F-06, F-15).
            var node = etl["shell"]!;
            report.SeedForm(ConfigErrorCode.ProcessorChoice, node.Path, node.ValueLine, node.ValueColumn,
                "shell and python are both set", "python runs and the shell command is ignored, as the seed did", "remove one of them");
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

    private static PythonProcessorConfig? ReadPython(TomlNode node, Report report)
    {
        var reader = new TableReader(node, report);
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
            // The seed called a set-up method only on a class, and otherwise passed over it.
            var setup = node["worker_setup_method"]!;
            report.SeedForm(ConfigErrorCode.InvalidValue, setup.Path, setup.Line, setup.Column,
                "worker_setup_method is set without worker_class (a set-up method belongs to a class)", "ignored, as the seed did",
                "set worker_class or remove worker_setup_method");
            setupMethod = null;
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

    private static DotnetProcessorConfig? ReadDotnet(TomlNode node, Report report)
    {
        var reader = new TableReader(node, report);
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

    // Python's int() and float() of a string (what the seed's settings models applied): surrounding blanks, a sign,
    // ASCII digits with single underscores between them; float also a fraction and an exponent.
    [GeneratedRegex(@"^\s*[+-]?[0-9](?:_?[0-9])*\s*$")]
    private static partial Regex PythonIntRegex();

    [GeneratedRegex(@"^\s*[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?\s*$")]
    private static partial Regex PythonFloatRegex();

    /// <summary>
    /// The strings Pydantic v1 (the seed's config models) read as a boolean, compared in lower case; any other string
    /// was refused, so <c>"false"</c> is false and <c>"maybe"</c> stays an error.
    /// </summary>
    private static bool? SeedBoolean(string text) => text.ToLowerInvariant() switch
    {
        "1" or "on" or "t" or "true" or "y" or "yes" => true,
        "0" or "off" or "f" or "false" or "n" or "no" => false,
        _ => null,
    };

    private static string Quote(string text) => text.Length <= 40 ? $"\"{text}\"" : $"\"{text[..40]}...\"";

    private static string Show(object? value) => value switch
    {
        bool b => b ? "true" : "false",
        string s => $"\"{s}\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => $"{value}",
    };

    /// <summary>Errors and warnings found so far; decides what becomes of a form the seed accepted.</summary>
    private sealed class Report(bool strict)
    {
        public List<ConfigError> Errors { get; } = [];

        public List<ConfigError> Warnings { get; } = [];

        /// <summary>
        /// Something the seed accepted: a warning saying what is made of it (<paramref name="outcome"/>) and how to
        /// write it instead (<paramref name="fix"/>); in strict mode an error.
        /// </summary>
        public void SeedForm(ConfigErrorCode code, string key, int line, int column, string problem, string outcome, string fix)
        {
            if (strict)
            {
                Errors.Add(new ConfigError(code, key, line, column, $"{problem}; {fix} (refused: {StrictSetting} is on)"));
            }
            else
            {
                Warnings.Add(new ConfigError(code, key, line, column, $"{problem}: {outcome}; {fix}"));
            }
        }
    }

    /// <summary>Reads the keys of one table, records what was read and reports every problem.</summary>
    private sealed class TableReader(TomlNode table, Report report)
    {
        private readonly HashSet<string> _known = new(StringComparer.Ordinal);

        private List<ConfigError> Errors => report.Errors;

        public bool? Bool(string name, bool required = false) =>
            Value(name, required, "a boolean (true or false)", v => v is BooleanValueSyntax b ? b.Value : (bool?)null, v => v switch
            {
                StringValueSyntax { Value: { } text } when SeedBoolean(text) is { } value => (value, $"{Quote(text)} is a string, not a boolean"),
                IntegerValueSyntax { Value: 0 or 1 } i => (i.Value == 1, $"{i.Value} is an integer, not a boolean"),
                FloatValueSyntax { Value: 0.0 or 1.0 } f => (f.Value == 1.0, $"{Show(f.Value)} is a float, not a boolean"),
                _ => ((bool?, string)?)null,
            });

        public string? String(string name, bool required = false) =>
            Value(name, required, "a string", v => v is StringValueSyntax s ? s.Value : null, v => v is IntegerValueSyntax i
                ? (i.Value.ToString(CultureInfo.InvariantCulture), $"{i.Value} is an integer, not a string")
                : null);

        /// <summary>A string only people read: the seed never looked at it, so a value of another type is ignored.</summary>
        public string? Documentation(string name)
        {
            if (table[name] is { Value: not (StringValueSyntax or IntegerValueSyntax) } node)
            {
                _known.Add(name);
                report.SeedForm(ConfigErrorCode.WrongType, node.Path, node.ValueLine, node.ValueColumn,
                    $"{name} is {Describe(node)}, not a string", "ignored, as the seed did (it is documentation only)", $"write {name} = \"...\"");
                return null;
            }

            return String(name);
        }

        public string? NonEmptyString(string name, bool required = false)
        {
            var value = String(name, required);
            if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                var node = table[name]!;
                Errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn, "must not be empty"));
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
                Errors.Add(new ConfigError(ConfigErrorCode.InvalidStageFolder, node.Path, node.ValueLine, node.ValueColumn, problem!));
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
            }, v => v is StringValueSyntax { Value: { } text } && PythonFloatRegex().IsMatch(text)
                ? (double.Parse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture), $"{Quote(text)} is a string, not a number")
                : ((double?, string)?)null);
            if (value is { } seconds && (!double.IsFinite(seconds) || seconds <= 0))
            {
                var node = table[name]!;
                Errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn,
                    $"must be a positive number of seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}"));
                return null;
            }

            return value;
        }

        public int? Integer(string name, int min, int max)
        {
            var value = Value(name, required: false, "an integer", v => v is IntegerValueSyntax i ? i.Value : (long?)null,
                v => v is StringValueSyntax { Value: { } text } && PythonIntRegex().IsMatch(text)
                    && long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                    ? (number, $"{Quote(text)} is a string, not an integer")
                    : ((long?, string)?)null);
            if (value is { } number && (number < min || number > max))
            {
                var node = table[name]!;
                Errors.Add(new ConfigError(ConfigErrorCode.InvalidValue, node.Path, node.ValueLine, node.ValueColumn,
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
                    Errors.Add(Missing(name, $"the [{Join(name)}] table is missing"));
                }

                return null;
            }

            if (!node.IsTable)
            {
                Errors.Add(new ConfigError(ConfigErrorCode.WrongType, node.Path, node.Line, node.Column, $"must be a table ([{node.Path}])"));
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
                    Errors.Add(new ConfigError(ConfigErrorCode.WrongType, child.Path, child.ValueLine, child.ValueColumn,
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
                    // The seed's models ignored keys they did not know; a typo is worth saying, not refusing.
                    var expected = string.Join(", ", _known.Order(StringComparer.Ordinal));
                    report.SeedForm(ConfigErrorCode.UnknownKey, node.Path, node.Line, node.Column,
                        $"unknown key '{name}'" + (table.Path.Length == 0 ? "" : $" in [{table.Path}]"), "ignored, as the seed did", $"expected one of: {expected}");
                }
            }
        }

        /// <param name="seedRead">
        /// For a value <paramref name="read"/> refuses: what the seed would have made of it, and how to say what it is;
        /// null when the seed refused it too.
        /// </param>
        private T? Value<T>(string name, bool required, string expected, Func<ValueSyntax, T?> read, Func<ValueSyntax, (T Value, string Problem)?>? seedRead = null)
        {
            _known.Add(name);
            var node = table[name];
            if (node is null)
            {
                if (required)
                {
                    Errors.Add(Missing(name, $"required key '{name}' is missing ({expected})"));
                }

                return default;
            }

            var value = node.Value is null ? default : read(node.Value);
            if (value is null && node.Value is not null && seedRead?.Invoke(node.Value) is { } converted)
            {
                var shown = Show(converted.Value);
                report.SeedForm(ConfigErrorCode.WrongType, node.Path, node.ValueLine, node.ValueColumn, converted.Problem,
                    $"read as {shown}, as the seed would", $"write {name} = {shown}");
                return converted.Value;
            }

            if (value is null)
            {
                Errors.Add(new ConfigError(ConfigErrorCode.WrongType, node.Path, node.ValueLine, node.ValueColumn,
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
