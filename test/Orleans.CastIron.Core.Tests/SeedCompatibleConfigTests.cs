namespace Orleans.CastIron.Core.Tests;

/// <summary>
/// Configs the seed accepted (Pydantic v1 models over the <c>toml</c> module: unknown keys ignored, values converted)
/// load as the seed read them, each such form named in a warning; with strict configs each is an error instead.
/// </summary>
public class SeedCompatibleConfigTests
{
    // Line 9 is the shell; tests change or add one line at a time.
    private const string Valid = """
        [castiron.etl]
        enabled = true
        handled_file_glob = "_test.tsv|.csv"
        inbox_dir = "01_inbox"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = true
        shell = "cat \"$ETL_FILENAME\""
        """;

    private const string ShellLine = "shell = \"cat \\\"$ETL_FILENAME\\\"\"";

    private static string Replace(string line, string replacement) =>
        Valid.Contains(line, StringComparison.Ordinal) ? Valid.Replace(line, replacement, StringComparison.Ordinal) : throw new ArgumentException(line);

    private sealed record SeedForm(string Text, ConfigErrorCode Code, string Key, int Line, int Column, string Warning, Action<ProcessorConfig> Check);

    /// <summary>Each form the seed accepted: the config, where the warning points, what it says, and the value used.</summary>
    private static readonly Dictionary<string, SeedForm> Forms = new()
    {
        ["quoted false"] = new(Replace("enabled = true", "enabled = \"false\""), ConfigErrorCode.WrongType, "castiron.etl.enabled", 2, 11,
            "\"false\" is a string, not a boolean: read as false, as the seed would; write enabled = false",
            c => Assert.False(c.Enabled)),
        ["quoted True"] = new(Replace("enabled = true", "enabled = \"True\""), ConfigErrorCode.WrongType, "castiron.etl.enabled", 2, 11,
            "\"True\" is a string, not a boolean: read as true, as the seed would; write enabled = true",
            c => Assert.True(c.Enabled)),
        ["1/0 for a boolean"] = new(Replace("save_error_log = true", "save_error_log = 0"), ConfigErrorCode.WrongType, "castiron.etl.save_error_log", 8, 18,
            "0 is an integer, not a boolean: read as false, as the seed would; write save_error_log = false",
            c => Assert.False(c.SaveErrorLog)),
        ["quoted integer"] = new(Valid + "\nmax_concurrency = \"4\"", ConfigErrorCode.WrongType, "castiron.etl.max_concurrency", 10, 19,
            "\"4\" is a string, not an integer: read as 4, as the seed would; write max_concurrency = 4",
            c => Assert.Equal(4, c.MaxConcurrency)),
        ["quoted integer, Python's spelling"] = new(Valid + "\nmax_attempts = \" 1_0 \"", ConfigErrorCode.WrongType, "castiron.etl.max_attempts", 10, 16,
            "\" 1_0 \" is a string, not an integer: read as 10, as the seed would; write max_attempts = 10",
            c => Assert.Equal(10, c.MaxAttempts)),
        ["quoted number"] = new(Valid + "\ntimeout_seconds = \"2.5\"", ConfigErrorCode.WrongType, "castiron.etl.timeout_seconds", 10, 19,
            "\"2.5\" is a string, not a number: read as 2.5, as the seed would; write timeout_seconds = 2.5",
            c => Assert.Equal(2.5, c.TimeoutSeconds)),
        ["integer for a string"] = new(Replace("inbox_dir = \"01_inbox\"", "inbox_dir = 1"), ConfigErrorCode.WrongType, "castiron.etl.inbox_dir", 4, 13,
            "1 is an integer, not a string: read as \"1\", as the seed would; write inbox_dir = \"1\"",
            c => Assert.Equal("1", c.InboxDir)),
        ["title of another type"] = new("title = true\n" + Valid, ConfigErrorCode.WrongType, "title", 1, 9,
            "title is a boolean, not a string: ignored, as the seed did (it is documentation only); write title = \"...\"",
            c => Assert.Null(c.Title)),
        ["unknown key"] = new(Replace("archive_dir = \"03_archive\"", "archive_dri = \"03_archive\""), ConfigErrorCode.UnknownKey, "castiron.etl.archive_dri", 6, 1,
            "unknown key 'archive_dri' in [castiron.etl]: ignored, as the seed did; expected one of: archive_dir, canceled_dir, dotnet, enabled, error_dir, handled_file_glob, handled_mimetypes, inbox_dir, max_attempts, max_concurrency, processing_dir, python, save_error_log, shell, timeout_seconds",
            c => Assert.Null(c.ArchiveDir)),
        ["unknown top-level key"] = new("owner = \"ops\"\n" + Valid, ConfigErrorCode.UnknownKey, "owner", 1, 1,
            "unknown key 'owner': ignored, as the seed did; expected one of: castiron, title",
            c => Assert.Equal("01_inbox", c.InboxDir)),
        ["unknown table"] = new(Valid + "\n[castiron.etll]\nenabled = true\n", ConfigErrorCode.UnknownKey, "castiron.etll", 10, 2,
            "unknown key 'etll' in [castiron]: ignored, as the seed did; expected one of: etl",
            c => Assert.True(c.Enabled)),
        ["unknown python key"] = new(Replace(ShellLine, "[castiron.etl.python]\nworker_run_method = \"a.run\"\nworker_kwargs = 1"), ConfigErrorCode.UnknownKey, "castiron.etl.python.worker_kwargs", 11, 1,
            "unknown key 'worker_kwargs' in [castiron.etl.python]: ignored, as the seed did; expected one of: environment_kwargs, static_kwargs, supports_metadata, supports_pizza_tracker, worker_class, worker_run_method, worker_setup_method",
            c => Assert.Equal("a.run", c.Python!.WorkerRunMethod)),
        ["quoted python flag"] = new(Replace(ShellLine, "[castiron.etl.python]\nworker_run_method = \"a.run\"\nsupports_pizza_tracker = \"yes\""), ConfigErrorCode.WrongType, "castiron.etl.python.supports_pizza_tracker", 11, 26,
            "\"yes\" is a string, not a boolean: read as true, as the seed would; write supports_pizza_tracker = true",
            c => Assert.True(c.Python!.SupportsPizzaTracker)),
        ["set-up method without a class"] = new(Replace(ShellLine, "[castiron.etl.python]\nworker_run_method = \"a.run\"\nworker_setup_method = \"setup\""), ConfigErrorCode.InvalidValue, "castiron.etl.python.worker_setup_method", 11, 1,
            "worker_setup_method is set without worker_class (a set-up method belongs to a class): ignored, as the seed did; set worker_class or remove worker_setup_method",
            c => Assert.Null(c.Python!.WorkerSetupMethod)),
        ["shell and python"] = new(Valid + "\n[castiron.etl.python]\nworker_run_method = \"a.run\"\n", ConfigErrorCode.ProcessorChoice, "castiron.etl.shell", 9, 9,
            "shell and python are both set: python runs and the shell command is ignored, as the seed did; remove one of them",
            c =>
            {
                Assert.Equal(ProcessorKind.Python, c.Kind);
                Assert.Null(c.Shell);
                Assert.Equal("a.run", c.Python!.WorkerRunMethod);
            }),
    };

    public static TheoryData<string> FormNames => [.. Forms.Keys];

    [Theory]
    [MemberData(nameof(FormNames))]
    public void SeedForm_Loads_WithTheValueTheSeedUsed_AndOneWarningSayingWhereAndWhat(string name)
    {
        var form = Forms[name];

        var result = ProcessorConfigParser.Parse(form.Text, "cfg.toml");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var warning = Assert.Single(result.Warnings);
        Assert.Equal(new ConfigError(form.Code, form.Key, form.Line, form.Column, form.Warning), warning);
        form.Check(result.Config!);
    }

    [Theory]
    [MemberData(nameof(FormNames))]
    public void SeedForm_WithStrictConfigs_IsAnErrorAtTheSamePlace_NamingTheSetting(string name)
    {
        var form = Forms[name];

        var result = ProcessorConfigParser.Parse(form.Text, "cfg.toml", strict: true);

        Assert.False(result.IsValid);
        Assert.Null(result.Config);
        Assert.Empty(result.Warnings);
        var error = Assert.Single(result.Errors);
        Assert.Equal((form.Code, form.Key, form.Line, form.Column), (error.Code, error.Key, error.Line, error.Column));
        Assert.EndsWith($"(refused: {ProcessorConfigParser.StrictSetting} is on)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("yes", true)]
    [InlineData("Y", true)]
    [InlineData("t", true)]
    [InlineData("on", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("no", false)]
    [InlineData("n", false)]
    [InlineData("F", false)]
    [InlineData("off", false)]
    [InlineData("0", false)]
    public void QuotedBoolean_IsReadAsTheSeedReadIt_NeverByStringTruthiness(string text, bool expected)
    {
        var result = ProcessorConfigParser.Parse(Replace("enabled = true", $"enabled = \"{text}\""), "cfg.toml");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(expected, result.Config!.Enabled);
        Assert.Contains($"read as {(expected ? "true" : "false")}", Assert.Single(result.Warnings).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("enabled = true", "enabled = \"maybe\"", ConfigErrorCode.WrongType, "castiron.etl.enabled")]
    [InlineData("enabled = true", "enabled = \"\"", ConfigErrorCode.WrongType, "castiron.etl.enabled")]
    [InlineData("enabled = true", "enabled = 2", ConfigErrorCode.WrongType, "castiron.etl.enabled")]
    [InlineData("inbox_dir = \"01_inbox\"", "inbox_dir = [\"01_inbox\"]", ConfigErrorCode.WrongType, "castiron.etl.inbox_dir")]
    [InlineData("inbox_dir = \"01_inbox\"", "inbox_dir = \"../in\"", ConfigErrorCode.InvalidStageFolder, "castiron.etl.inbox_dir")]
    [InlineData("handled_file_glob = \"_test.tsv|.csv\"", "handled_file_glob = \"*_test.tsv\"", ConfigErrorCode.InvalidPattern, "castiron.etl.handled_file_glob")]
    [InlineData("error_dir = \"04_failed\"", "", ConfigErrorCode.MissingKey, "castiron.etl.error_dir")]
    public void GenuineErrors_StayErrors_WithoutStrictConfigs(string line, string replacement, ConfigErrorCode code, string key)
    {
        var result = ProcessorConfigParser.Parse(Replace(line, replacement), "cfg.toml");

        Assert.False(result.IsValid);
        Assert.Empty(result.Warnings);
        var error = Assert.Single(result.Errors);
        Assert.Equal((code, key), (error.Code, error.Key));
    }

    [Fact]
    public void QuotedIntegerOutOfRange_IsConverted_ThenRefusedByTheRange()
    {
        var result = ProcessorConfigParser.Parse(Valid + "\nmax_concurrency = \"0\"", "cfg.toml");

        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigErrorCode.InvalidValue, "castiron.etl.max_concurrency", 10, 19), (error.Code, error.Key, error.Line, error.Column));
        Assert.Contains("must be between 1 and 100000, not 0", error.Message, StringComparison.Ordinal);
        Assert.Equal("castiron.etl.max_concurrency", Assert.Single(result.Warnings).Key);
    }

    [Fact]
    public void SeveralSeedForms_AreAllWarnedAbout_InTextOrder()
    {
        var text = Valid
            .Replace("enabled = true", "enabled = \"yes\"", StringComparison.Ordinal)
            .Replace("save_error_log = true", "save_error_log = true\ncolour = \"blue\"", StringComparison.Ordinal)
            + "\n[castiron.etl.python]\nworker_run_method = \"a.run\"\n";

        var result = ProcessorConfigParser.Parse(text, "cfg.toml");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(
            [("castiron.etl.enabled", 2), ("castiron.etl.colour", 9), ("castiron.etl.shell", 10)],
            result.Warnings.Select(w => (w.Key, w.Line)).ToArray());
    }

    [Fact]
    public void SeedLoadPythonTestsClassSetupAndKwargs_Load()
    {
        // The configs of the seed's test_load_python.py (class, run and set-up methods, a static argument), as TOML.
        var text = Replace(ShellLine, """
            [castiron.etl.python]
            worker_class = "tests.utils.DummyClass"
            worker_run_method = "run"
            worker_setup_method = "setup"

            [castiron.etl.python.static_kwargs]
            test = 1
            """);

        var result = ProcessorConfigParser.Parse(text, "cfg.toml", strict: true);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("tests.utils.DummyClass.run", result.Config!.Python!.EntryPointName);
        Assert.Equal("setup", result.Config.Python.WorkerSetupMethod);
        Assert.Equal(1L, result.Config.Python.StaticKwargs["test"]);
    }
}
