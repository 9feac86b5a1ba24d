namespace Orleans.CastIron.Core.Tests;

public class ProcessorConfigParserTests
{
    // A minimal valid config; tests change one line at a time.
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

    private static ConfigParseResult Parse(string text) => ProcessorConfigParser.Parse(text, "cfg.toml");

    private static string Replace(string line, string replacement) =>
        Valid.Contains(line, StringComparison.Ordinal) ? Valid.Replace(line, replacement, StringComparison.Ordinal) : throw new ArgumentException(line);

    private static ConfigError Single(ConfigParseResult result)
    {
        Assert.False(result.IsValid);
        return Assert.Single(result.Errors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SeedExampleConfig_LoadsUnchanged_WithoutWarnings(bool strict)
    {
        var result = ProcessorConfigParser.Parse(Fixture.Read("example_config.toml"), "example_config.toml", strict);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Empty(result.Warnings);
        var config = result.Config!;
        Assert.Equal("Example Processor", config.Title);
        Assert.True(config.Enabled);
        Assert.Equal(".csv|.CSV", config.HandledFileGlob);
        Assert.Equal(new[] { "text/csv" }, config.HandledMimeTypes.ToArray());
        Assert.Equal("01_inbox", config.InboxDir); // "01_inbox/" with its trailing slash normalised away
        Assert.Equal("02_processing", config.ProcessingDir);
        Assert.Equal("03_archive", config.ArchiveDir);
        Assert.Equal("04_failed", config.ErrorDir);
        Assert.Equal("05_canceled", config.CanceledDir);
        Assert.True(config.SaveErrorLog);
        Assert.Null(config.Shell);
        Assert.Null(config.Dotnet);
        Assert.Equal(ProcessorKind.Python, config.Kind);
        Assert.Equal("etl.example.example_text_processor.process", config.Python!.WorkerRunMethod);
        Assert.True(config.Python.SupportsMetadata);
        Assert.False(config.Python.SupportsPizzaTracker);
        Assert.Equal("foobar", config.Python.StaticKwargs["field1_param"]);
        Assert.Empty(config.Python.EnvironmentKwargs);
    }

    [Theory]
    [InlineData("test_config.toml")]
    [InlineData("test_python_config.toml")]
    public void SeedTestFixtures_RepeatedErrorDir_IsADuplicateKeyErrorWithPosition(string fixture)
    {
        // Not a leniency to keep: the seed's own TOML library refused these two ("Duplicate keys!", seed-spec §3).
        var error = Single(ProcessorConfigParser.Parse(Fixture.Read(fixture), fixture));

        Assert.Equal(ConfigErrorCode.DuplicateKey, error.Code);
        Assert.Equal("castiron.etl.error_dir", error.Key);
        Assert.Equal(24, error.Line);
        Assert.Equal(1, error.Column);
        Assert.Contains("already defined", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeedShellFixture_WithDuplicateFixed_ReportsItsShellGlobAsAnInvalidPattern()
    {
        // The seed's own test asserted that "*_test.tsv" loads, while matching silently refused it (B-17).
        var text = Fixture.Read("test_config.toml").Replace("error_dir = \"05_canceled\"", "canceled_dir = \"05_canceled\"", StringComparison.Ordinal);

        var error = Single(ProcessorConfigParser.Parse(text, "test_config.toml"));

        Assert.Equal(ConfigErrorCode.InvalidPattern, error.Code);
        Assert.Equal("castiron.etl.handled_file_glob", error.Key);
        Assert.Equal((9, 21), (error.Line, error.Column));
        Assert.Contains("not a shell glob", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeedShellFixture_Repaired_HasTheValuesTheSeedTestExpected()
    {
        var text = Fixture.Read("test_config.toml")
            .Replace("error_dir = \"05_canceled\"", "canceled_dir = \"05_canceled\"", StringComparison.Ordinal)
            .Replace("\"*_test.tsv\"", "\"_test.tsv\"", StringComparison.Ordinal);

        var result = ProcessorConfigParser.Parse(text, "test_config.toml");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.True(config.Enabled);
        Assert.Equal("01_inbox", config.InboxDir);
        Assert.Equal("02_processing", config.ProcessingDir);
        Assert.Equal("03_archive", config.ArchiveDir);
        Assert.Equal("04_failed", config.ErrorDir);
        Assert.Equal("05_canceled", config.CanceledDir);
        Assert.False(config.SaveErrorLog);
        Assert.Equal("shell", config.Shell!.Trim());
        Assert.Null(config.Python);
        Assert.Equal(ProcessorKind.Shell, config.Kind);
    }

    [Fact]
    public void SeedPythonFixture_Repaired_HasPythonAndNoShell()
    {
        var text = Fixture.Read("test_python_config.toml")
            .Replace("error_dir = \"05_canceled\"", "canceled_dir = \"05_canceled\"", StringComparison.Ordinal)
            .Replace("\"*_test.tsv\"", "\"_test.tsv\"", StringComparison.Ordinal);

        var result = ProcessorConfigParser.Parse(text, "test_python_config.toml");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Null(result.Config!.Shell);
        Assert.Equal("etl.util.process_file_stub", result.Config.Python!.WorkerRunMethod);
        Assert.Equal("just a kwarg", result.Config.Python.StaticKwargs["example_kwarg_1"]);
        Assert.Equal(2L, result.Config.Python.StaticKwargs["example_kwarg_2"]);
    }

    [Fact]
    public void CanceledDir_DefaultsTo05Canceled()
    {
        var result = Parse(Valid);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("05_canceled", result.Config!.CanceledDir);
        Assert.Null(result.Config.TimeoutSeconds);
        Assert.Null(result.Config.MaxAttempts);
        Assert.Null(result.Config.MaxConcurrency);
    }

    [Fact]
    public void EmptyDocument_ReportsTheMissingTable()
    {
        var error = Single(Parse(""));

        Assert.Equal(ConfigErrorCode.MissingKey, error.Code);
        Assert.Equal("castiron", error.Key);
    }

    [Fact]
    public void NullText_IsAnErrorNotAnException()
    {
        Assert.False(ProcessorConfigParser.Parse(null).IsValid);
    }

    [Fact]
    public void SyntaxError_NamesLineAndColumn()
    {
        var result = Parse(Replace("save_error_log = true", "save_error_log = "));

        Assert.False(result.IsValid);
        var error = result.Errors[0];
        Assert.Equal(ConfigErrorCode.Syntax, error.Code);
        Assert.Equal(8, error.Line);
        Assert.True(error.Column > 1);
    }

    [Theory]
    [InlineData("enabled = true")]
    [InlineData("handled_file_glob = \"_test.tsv|.csv\"")]
    [InlineData("inbox_dir = \"01_inbox\"")]
    [InlineData("processing_dir = \"02_processing\"")]
    [InlineData("error_dir = \"04_failed\"")]
    [InlineData("save_error_log = true")]
    public void MissingRequiredKey_IsNamedWithTheTablePosition(string line)
    {
        var key = line[..line.IndexOf(' ', StringComparison.Ordinal)];

        var error = Single(Parse(Replace(line, "")));

        Assert.Equal(ConfigErrorCode.MissingKey, error.Code);
        Assert.Equal($"castiron.etl.{key}", error.Key);
        Assert.Equal((1, 2), (error.Line, error.Column));
    }

    [Fact]
    public void ArchiveDir_IsOptional()
    {
        var result = Parse(Replace("archive_dir = \"03_archive\"", ""));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Null(result.Config!.ArchiveDir);
    }

    [Fact]
    public void UnknownKey_IsAnErrorWhenStrict_AtItsPositionWithTheExpectedKeys()
    {
        var result = ProcessorConfigParser.Parse(Replace("archive_dir = \"03_archive\"", "archive_dri = \"03_archive\""), "cfg.toml", strict: true);

        var error = Single(result);
        Assert.Equal(ConfigErrorCode.UnknownKey, error.Code);
        Assert.Equal("castiron.etl.archive_dri", error.Key);
        Assert.Equal((6, 1), (error.Line, error.Column));
        Assert.Contains("archive_dir", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("enabled = true", "enabled = \"maybe\"", "castiron.etl.enabled", "a boolean")]
    [InlineData("enabled = true", "enabled = \" true\"", "castiron.etl.enabled", "a boolean")] // Python compared the string as written
    [InlineData("save_error_log = true", "save_error_log = 2", "castiron.etl.save_error_log", "a boolean")]
    [InlineData("inbox_dir = \"01_inbox\"", "inbox_dir = 1.5", "castiron.etl.inbox_dir", "a string")]
    [InlineData("inbox_dir = \"01_inbox\"", "inbox_dir = true", "castiron.etl.inbox_dir", "a string")]
    [InlineData("handled_file_glob = \"_test.tsv|.csv\"", "handled_file_glob = [\".csv\"]", "castiron.etl.handled_file_glob", "a string")]
    public void WrongType_NoConversionCanMend_IsReportedAtTheValue(string line, string replacement, string key, string expected)
    {
        var error = Single(Parse(Replace(line, replacement)));

        Assert.Equal(ConfigErrorCode.WrongType, error.Code);
        Assert.Equal(key, error.Key);
        Assert.Equal(replacement.IndexOf('=', StringComparison.Ordinal) + 3, error.Column);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/abs/inbox", "absolute")]
    [InlineData("../inbox", "'..'")]
    [InlineData("a/../../inbox", "'..'")]
    [InlineData("a\\\\inbox", "backslash")]
    [InlineData("./", "own folder")]
    [InlineData("", "empty")]
    public void BadStageFolder_IsRefused(string folder, string expected)
    {
        var error = Single(Parse(Replace("inbox_dir = \"01_inbox\"", $"inbox_dir = \"{folder}\"")));

        Assert.Equal(ConfigErrorCode.InvalidStageFolder, error.Code);
        Assert.Equal("castiron.etl.inbox_dir", error.Key);
        Assert.Equal((4, 13), (error.Line, error.Column));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("01_inbox/", "01_inbox")]
    [InlineData("./stage//01_inbox/", "stage/01_inbox")]
    [InlineData("a/b", "a/b")]
    public void StageFolder_IsNormalised(string folder, string expected)
    {
        var result = Parse(Replace("inbox_dir = \"01_inbox\"", $"inbox_dir = \"{folder}\""));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(expected, result.Config!.InboxDir);
    }

    [Fact]
    public void TwoStagesInOneFolder_AreRefused()
    {
        var error = Single(Parse(Replace("processing_dir = \"02_processing\"", "processing_dir = \"01_inbox/\"")));

        Assert.Equal(ConfigErrorCode.InvalidStageFolder, error.Code);
        Assert.Equal("castiron.etl.processing_dir", error.Key);
        Assert.Contains("inbox_dir", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AStageNamedLikeTheDefaultCanceledFolder_IsRefused()
    {
        var error = Single(Parse(Replace("error_dir = \"04_failed\"", "error_dir = \"05_canceled\"")));

        Assert.Equal(ConfigErrorCode.InvalidStageFolder, error.Code);
        Assert.Equal("castiron.etl.error_dir", error.Key);
    }

    [Theory]
    [InlineData("*.csv")]
    [InlineData("(unclosed")]
    [InlineData("a)(b")]
    public void PatternThatDoesNotCompile_IsRefused(string pattern)
    {
        var error = Single(Parse(Replace("handled_file_glob = \"_test.tsv|.csv\"", $"handled_file_glob = \"{pattern}\"")));

        Assert.Equal(ConfigErrorCode.InvalidPattern, error.Code);
        Assert.Equal("castiron.etl.handled_file_glob", error.Key);
        Assert.Equal((3, 21), (error.Line, error.Column));
    }

    [Fact]
    public void NoProcessor_IsReported()
    {
        var error = Single(Parse(Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", "")));

        Assert.Equal(ConfigErrorCode.ProcessorChoice, error.Code);
        Assert.Equal("castiron.etl", error.Key);
        Assert.Contains("none of shell / python / dotnet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyShellString_CountsAsNoProcessor()
    {
        var error = Single(Parse(Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", "shell = \"  \"")));

        Assert.Equal(ConfigErrorCode.ProcessorChoice, error.Code);
    }

    [Fact]
    public void ShellAndDotnet_AreReportedAsAnUnclearChoice()
    {
        var error = Single(Parse(Valid + "\n[castiron.etl.dotnet]\nprocessor = \"a.b\"\n"));

        Assert.Equal(ConfigErrorCode.ProcessorChoice, error.Code);
        Assert.Contains("shell and dotnet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShellPythonAndDotnet_AreReportedAsAnUnclearChoice_NotTheSeedsShellAndPython()
    {
        var result = Parse(Valid + "\n[castiron.etl.python]\nworker_run_method = \"a.b\"\n[castiron.etl.dotnet]\nprocessor = \"a.b\"\n");

        var error = Single(result);
        Assert.Equal(ConfigErrorCode.ProcessorChoice, error.Code);
        Assert.Contains("shell and python and dotnet", error.Message, StringComparison.Ordinal);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void DotnetTable_IsRead()
    {
        var text = Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", """
            timeout_seconds = 2.5
            max_attempts = 3
            max_concurrency = 4

            [castiron.etl.dotnet]
            processor = "csv-loader"
            options = { delimiter = ",", header = true }

            [castiron.etl.dotnet.static_kwargs]
            table = "gps"
            limits = [1, 2]

            [castiron.etl.dotnet.environment_kwargs]
            password = "DB_PASSWORD"
            """);

        var result = Parse(text);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Equal(ProcessorKind.Dotnet, config.Kind);
        Assert.Equal("csv-loader", config.Dotnet!.Processor);
        Assert.Equal(",", config.Dotnet.Options["delimiter"]);
        Assert.Equal(true, config.Dotnet.Options["header"]);
        Assert.Equal("gps", config.Dotnet.StaticKwargs["table"]);
        Assert.Equal(new object?[] { 1L, 2L }, Assert.IsType<ImmutableArray<object?>>(config.Dotnet.StaticKwargs["limits"]).ToArray());
        Assert.Equal("DB_PASSWORD", config.Dotnet.EnvironmentKwargs["password"]);
        Assert.Equal(2.5, config.TimeoutSeconds);
        Assert.Equal(3, config.MaxAttempts);
        Assert.Equal(4, config.MaxConcurrency);
    }

    [Fact]
    public void DotnetTable_WithoutProcessorName_IsReported()
    {
        var text = Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", "[castiron.etl.dotnet]\nfoo = 1\n");

        var result = Parse(text);

        Assert.Equal(ConfigErrorCode.MissingKey, Single(result).Code);
        Assert.Equal("castiron.etl.dotnet.processor", result.Errors[0].Key);
        Assert.Equal("castiron.etl.dotnet.foo", Assert.Single(result.Warnings).Key);
    }

    [Theory]
    [InlineData("timeout_seconds = 0", "castiron.etl.timeout_seconds", ConfigErrorCode.InvalidValue)]
    [InlineData("timeout_seconds = -1.5", "castiron.etl.timeout_seconds", ConfigErrorCode.InvalidValue)]
    [InlineData("timeout_seconds = \"ten\"", "castiron.etl.timeout_seconds", ConfigErrorCode.WrongType)]
    [InlineData("timeout_seconds = \"inf\"", "castiron.etl.timeout_seconds", ConfigErrorCode.WrongType)]
    [InlineData("max_attempts = 0", "castiron.etl.max_attempts", ConfigErrorCode.InvalidValue)]
    [InlineData("max_attempts = 1.5", "castiron.etl.max_attempts", ConfigErrorCode.WrongType)]
    [InlineData("max_attempts = \"4.0\"", "castiron.etl.max_attempts", ConfigErrorCode.WrongType)] // Python's int() refuses it too
    [InlineData("max_concurrency = \"99999999999999999999\"", "castiron.etl.max_concurrency", ConfigErrorCode.WrongType)]
    [InlineData("max_concurrency = 0", "castiron.etl.max_concurrency", ConfigErrorCode.InvalidValue)]
    public void Limits_AreValidated(string line, string key, ConfigErrorCode code)
    {
        var error = Single(Parse(Valid.Replace("save_error_log = true", $"save_error_log = true\n{line}", StringComparison.Ordinal)));

        Assert.Equal(code, error.Code);
        Assert.Equal(key, error.Key);
        Assert.Equal(9, error.Line);
    }

    [Fact]
    public void PythonTable_SetupWithoutClass_AndEnvironmentKwargOfWrongType_AreReported()
    {
        var text = Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", """
            [castiron.etl.python]
            worker_run_method = "run"
            worker_setup_method = "setup"
            supports_pizza_tracker = "maybe"

            [castiron.etl.python.environment_kwargs]
            token = 5
            """);

        var result = ProcessorConfigParser.Parse(text, "cfg.toml", strict: true);

        Assert.Equal(
            [
                (ConfigErrorCode.WrongType, "castiron.etl.python.environment_kwargs.token"),
                (ConfigErrorCode.WrongType, "castiron.etl.python.supports_pizza_tracker"),
                (ConfigErrorCode.InvalidValue, "castiron.etl.python.worker_setup_method"),
            ],
            result.Errors.Select(e => (e.Code, e.Key)).Order().ToArray());
        Assert.All(result.Errors, e => Assert.True(e.Line > 0));
    }

    [Fact]
    public void PythonEmptyRunMethod_IsReported()
    {
        var text = Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", "[castiron.etl.python]\nworker_run_method = \"\"\n");

        var error = Single(Parse(text));

        Assert.Equal(ConfigErrorCode.InvalidValue, error.Code);
        Assert.Equal("castiron.etl.python.worker_run_method", error.Key);
    }

    [Fact]
    public void PythonClassEntryPointName_JoinsClassAndMethod()
    {
        var text = Replace("shell = \"cat \\\"$ETL_FILENAME\\\"\"", "[castiron.etl.python]\nworker_class = \"pkg.Loader\"\nworker_run_method = \"run\"\n");

        var result = Parse(text);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("pkg.Loader.run", result.Config!.Python!.EntryPointName);
    }

    [Fact]
    public void SeveralProblems_AreAllReportedInTextOrder()
    {
        var text = Valid
            .Replace("enabled = true", "enabled = \"maybe\"", StringComparison.Ordinal)
            .Replace("inbox_dir = \"01_inbox\"", "inbox_dir = \"../in\"", StringComparison.Ordinal)
            .Replace("save_error_log = true", "save_error_log = true\ncolour = \"blue\"", StringComparison.Ordinal);

        var result = ProcessorConfigParser.Parse(text, "cfg.toml", strict: true);

        Assert.Equal(
            [ConfigErrorCode.WrongType, ConfigErrorCode.InvalidStageFolder, ConfigErrorCode.UnknownKey],
            result.Errors.Select(e => e.Code).ToArray());
        Assert.Equal(result.Errors.OrderBy(e => e.Line).Select(e => e.Line), result.Errors.Select(e => e.Line));
    }

    [Theory]
    [InlineData("\0\0\0")]
    [InlineData("[[castiron.etl]]\nenabled = true\n")]
    [InlineData("castiron = 5")]
    [InlineData("[castiron]\netl = \"x\"")]
    [InlineData("= = =")]
    [InlineData("[castiron.etl]\nenabled = 1979-05-27T07:32:00Z\n")]
    public void Garbage_GivesErrorsAndNeverThrows(string text)
    {
        var result = Parse(text);

        Assert.False(result.IsValid);
        Assert.NotEmpty(result.Errors);
    }

    [Fact]
    public void HugeDocument_GivesErrorsAndNeverThrows()
    {
        var text = string.Concat(Enumerable.Repeat("[", 100_000));

        Assert.False(Parse(text).IsValid);
    }

    [Fact]
    public void PatternWithABackreference_IsAnInvalidPattern_WithKeyLineAndColumn()
    {
        var error = Single(Parse(Replace("handled_file_glob = \"_test.tsv|.csv\"", "handled_file_glob = '(x)\\1.csv'")));

        Assert.Equal(ConfigErrorCode.InvalidPattern, error.Code);
        Assert.Equal("castiron.etl.handled_file_glob", error.Key);
        Assert.Equal((3, 21), (error.Line, error.Column));
    }
}
