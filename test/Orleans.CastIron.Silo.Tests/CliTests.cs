using System.Diagnostics;
using System.Text.Json;
using Orleans.CastIron.Cli;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The <c>castiron</c> command line against the real silo process: in a real pseudo-terminal (tmux) as a person sees
/// it, and with its output captured as scripts read it (<c>--json</c>, plain lines, exit codes).
/// </summary>
public sealed class CliTests(CliTests.Silo silo) : IClassFixture<CliTests.Silo>
{
    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "examples", name);

    private string Gateway => $"127.0.0.1:{silo.Process.GatewayPort}";

    [Fact]
    public async Task SubmitWatch_InATerminal_ShowsTheBarReachComplete_AndExitsZero()
    {
        var screen = await silo.InTerminalAsync($"submit {Quote(Example("test.csv"))} --config example_config.toml --watch --gateway {Gateway}");

        Assert.Contains("EXIT=0", screen, StringComparison.Ordinal);
        var bar = Assert.Single(screen.Split('\n'), l => l.Contains("test.csv", StringComparison.Ordinal));
        Assert.Contains("Complete", bar, StringComparison.Ordinal);
        Assert.Contains("100%", bar, StringComparison.Ordinal);
        Assert.Contains("━━━━━", bar, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitWatch_ReportsEveryProgressStepAndTheTask_ThenComplete()
    {
        var file = Path.Combine(silo.Folder, "count.steps");
        await File.WriteAllTextAsync(file, "x\n");

        var (code, output, _) = await RunAsync("submit", file, "--config", "steps.toml", "--watch");

        Assert.Equal(CliApp.Ok, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.All(lines, l => Assert.Equal("count.steps", l[0]));
        // Each step as it happens (the script takes 0.2 s a step), only forwards, up to 100%.
        var steps = lines.Select(l => int.Parse(l[3].TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
        Assert.Equal(steps.Order(), steps);
        Assert.True(steps.Count(p => p is > 0 and < 100) >= 5, $"progress steps seen: {string.Join(' ', steps)}");
        Assert.Equal(100, steps[^1]);
        Assert.Contains(lines, l => l.Length > 4 && l[4] == "counting");
        Assert.Equal(["Complete", "100%"], lines[^1][2..4]);
    }

    [Fact]
    public async Task AFileNamedLikeMarkup_IsShownAsItself()
    {
        var file = Path.Combine(silo.Folder, "[red]x[bold] $(id).csv");
        await File.WriteAllTextAsync(file, "a,b\n1,2\n");

        var screen = await silo.InTerminalAsync($"submit {Quote(file)} --config example_config.toml --watch --gateway {Gateway}");

        Assert.Contains("EXIT=0", screen, StringComparison.Ordinal);
        Assert.Contains("[red]x[bold] $(id).csv Complete", screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitWatch_OfAFileThatFails_ExitsOne_WithItsReasonAndTheTailOfItsErrorLog()
    {
        var file = Path.Combine(silo.Folder, "bad.dat");
        await File.WriteAllTextAsync(file, "x\n");

        var screen = await silo.InTerminalAsync($"submit {Quote(file)} --config failing.toml --watch --gateway {Gateway}");

        Assert.Contains("EXIT=1", screen, StringComparison.Ordinal);
        Assert.Contains("Failed: the shell script exited with code 3", screen, StringComparison.Ordinal);
        Assert.Contains("--- end of the error log of bad.dat ---", screen, StringComparison.Ordinal);
        Assert.Contains("boom: bad row 7", screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithNoColor_TheTerminalGetsNoColours()
    {
        var coloured = await silo.InTerminalAsync($"configs list --gateway {Gateway}", escapes: true);
        var plain = await silo.InTerminalAsync($"configs list --gateway {Gateway}", escapes: true, noColor: true);

        Assert.Contains("\u001b[", coloured, StringComparison.Ordinal);
        Assert.Contains("example_config.toml", plain, StringComparison.Ordinal);
        // Bold and colour are SGR sequences ("ESC[...m"); none is left.
        Assert.DoesNotMatch(@"\u001b\[[0-9;]*m", plain.Replace("\u001b[0m", "", StringComparison.Ordinal).Replace("\u001b[39m", "", StringComparison.Ordinal).Replace("\u001b[49m", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReadCommands_WithJson_PrintWhatScriptsParse()
    {
        var (code, output, _) = await RunAsync("submit", Example("test.csv"), "--config", "example_config.toml", "--json");
        Assert.Equal(CliApp.Ok, code);
        var id = JsonDocument.Parse(output).RootElement.GetProperty("file_id").GetString()!;
        await SiloFixture.WaitUntilAsync(async () => (await RunAsync("status", id, "--json")).Output.Contains("\"Complete\"", StringComparison.Ordinal), () => "the file Complete");

        var (_, one, _) = await RunAsync("status", id, "--json");
        var record = JsonDocument.Parse(one).RootElement;
        Assert.Equal("Complete", record.GetProperty("status").GetString());
        Assert.Equal("test.csv", record.GetProperty("original_filename").GetString());

        var (_, list, _) = await RunAsync("status", "--status", "Complete", "--limit", "500", "--json");
        Assert.Contains(JsonDocument.Parse(list).RootElement.EnumerateArray(), r => r.GetProperty("id").GetString() == id);

        var (_, configs, _) = await RunAsync("configs", "list", "--json");
        Assert.Contains(JsonDocument.Parse(configs).RootElement.EnumerateArray(), c => c.GetProperty("config_key").GetString() == "example_config.toml" && c.GetProperty("registered").GetBoolean());

        // Without --json and without a terminal: one tab-separated line per file.
        var (_, lines, _) = await RunAsync("status", id);
        Assert.StartsWith($"{id}\tComplete\ttest.csv\t", lines, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_FromStandardInput_UploadsIt_UnderTheNameGiven()
    {
        // As through `docker compose exec -T silo castiron submit - --name ... < file`: the file is not in the container.
        using var stdin = new MemoryStream(await File.ReadAllBytesAsync(Example("test.csv")));
        var (code, output, _) = await RunAsync(["submit", "-", "--name", "piped test.csv", "--config", "example_config.toml", "--json"], gateway: true, stdin);

        Assert.Equal(CliApp.Ok, code);
        var id = JsonDocument.Parse(output).RootElement.GetProperty("file_id").GetString()!;
        await SiloFixture.WaitUntilAsync(async () => (await RunAsync("status", id, "--json")).Output.Contains("\"Complete\"", StringComparison.Ordinal), () => "the piped file Complete");
        var record = JsonDocument.Parse((await RunAsync("status", id, "--json")).Output).RootElement;
        Assert.Equal("piped test.csv", record.GetProperty("original_filename").GetString());
        Assert.Equal(stdin.Length, record.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task Cluster_ShowsTheSilo_TheIntake_AndTheFilesByStatus()
    {
        var (code, output, _) = await RunAsync("cluster", "--json");

        Assert.Equal(CliApp.Ok, code);
        var status = JsonDocument.Parse(output).RootElement;
        Assert.Equal("Active", Assert.Single(status.GetProperty("silos").EnumerateArray()).GetProperty("status").GetString());
        Assert.False(status.GetProperty("intake_paused").GetBoolean());
        Assert.True(status.GetProperty("files").TryGetProperty("Complete", out _));
        Assert.Equal(JsonValueKind.Null, status.GetProperty("kafka").ValueKind);
        Assert.Contains("intake\trunning", (await RunAsync("cluster")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PayloadSend_WithoutABroker_RunsTheHandlerNow_AndSaysHowItWent()
    {
        var recorded = Path.Combine(silo.Folder, "payloads");

        var (code, output, _) = await RunAsync("payload", "send", "--method", "test.payload.record", "--data", "{\"x\":1}", "--arg", "n=7", "--arg", $"out={recorded}");

        Assert.Equal(CliApp.Ok, code);
        Assert.StartsWith("handled (silo S", output.Trim(), StringComparison.Ordinal);
        Assert.Equal("7", File.ReadAllText($"{recorded}.{silo.Process.Id}").Trim());

        var (refused, _, error) = await RunAsync("payload", "send", "--method", "no.such.handler", "--data", "x");
        Assert.Equal(CliApp.FileFailed, refused);
        Assert.Contains("not handled: no payload handler is registered as 'no.such.handler' (registered: ", error, StringComparison.Ordinal);
        Assert.Equal(CliApp.Usage, (await RunAsync("payload", "send", "--method", "m", "--data", "x", "--arg", "novalue")).Code);
    }

    [Fact]
    public async Task ValidatingABadConfig_PrintsEachErrorLikeACompiler_AndExitsOne()
    {
        var path = Path.Combine(silo.Folder, "mine.toml");
        await File.WriteAllTextAsync(path, "[castiron.etl]\nenabled = true\nhandled_file_glob = \"[\"\ninbox_dir = \"in\"\nprocessing_dir = \"p\"\nerror_dir = \"e\"\nsave_error_log = true\nshell = \"true\"\n");

        var (code, output, _) = await RunAsync("configs", "validate", path);

        Assert.Equal(CliApp.FileFailed, code);
        var lines = output.Split('\n');
        var at = Array.FindIndex(lines, l => l.StartsWith("mine.toml:3:21: error: castiron.etl.handled_file_glob: '[' is not a valid pattern", StringComparison.Ordinal));
        Assert.True(at >= 0, output);
        Assert.Equal("  handled_file_glob = \"[\"", lines[at + 1]);
        Assert.Equal("  " + new string(' ', 20) + "^~~", lines[at + 2]);
        Assert.Equal(CliApp.Ok, (await RunAsync("configs", "validate", Example("example_config.toml"))).Code);
    }

    [Fact]
    public async Task ValidatingASeedStyleConfig_PrintsItsWarningsLikeACompiler_AndExitsZero()
    {
        var path = Path.Combine(silo.Folder, "seedish.toml");
        await File.WriteAllTextAsync(path, "[castiron.etl]\nenabled = \"yes\"\nhandled_file_glob = \".dat\"\ninbox_dir = \"in\"\nprocessing_dir = \"p\"\nerror_dir = \"e\"\nsave_error_log = true\nshell = \"true\"\n");

        var (code, output, _) = await RunAsync("configs", "validate", path);

        Assert.Equal(CliApp.Ok, code);
        var lines = output.Split('\n');
        var at = Array.IndexOf(lines, "seedish.toml:2:11: warning: castiron.etl.enabled: \"yes\" is a string, not a boolean: read as true, as the seed would; write enabled = true");
        Assert.True(at >= 0, output);
        Assert.Equal("  enabled = \"yes\"", lines[at + 1]);
        Assert.Equal("  " + new string(' ', 10) + "^~~~~", lines[at + 2]);
        Assert.Equal("seedish.toml: valid, with 1 warning(s)", lines[at + 3]);
    }

    [Theory]
    [InlineData(new[] { "submit", "missing.csv", "--config", "example_config.toml" }, "missing.csv: no such file")]
    [InlineData(new[] { "submit", "@test.csv", "--config", "nope.toml" }, "no config 'nope.toml' is registered; registered:")]
    [InlineData(new[] { "submit", "-", "--config", "example_config.toml" }, "- (standard input) needs --name: the file's name in the inbox")]
    [InlineData(new[] { "submit", "@test.csv", "--name", "x.csv", "--config", "example_config.toml" }, "--name names the file read from standard input; give - as the file")]
    [InlineData(new[] { "submit", "-", "-", "--name", "x.csv", "--config", "example_config.toml" }, "standard input (-) can be submitted once")]
    [InlineData(new[] { "status", "--limit", "many" }, "Cannot parse argument 'many' for option '--limit'")]
    [InlineData(new[] { "status", "--limit", "0" }, "--limit must be between 1 and 10000, not 0")]
    [InlineData(new[] { "frobnicate" }, "see 'castiron --help'")]
    [InlineData(new[] { "status", "no-such-id" }, "no file with id 'no-such-id'")]
    public async Task BadArgumentsOrInput_ExitTwo_NamingTheProblem(string[] arguments, string expected)
    {
        var (code, _, error) = await RunAsync([.. arguments.Select(a => a == "@test.csv" ? Example("test.csv") : a)]);

        Assert.Equal(CliApp.Usage, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableCluster_ExitsThree_SayingWhereItLooked()
    {
        var nowhere = $"127.0.0.1:{SiloFixture.FreePort()}";
        var (code, _, error) = await RunAsync(["status", "--gateway", nowhere], gateway: false);

        Assert.Equal(CliApp.Unreachable, code);
        Assert.Contains($"cannot reach the cluster at {nowhere}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AClusterWhoseRedisDoesNotAnswer_ExitsThree_WithOneShortLine()
    {
        var port = SiloFixture.FreePort();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?> { ["CASTIRON_REDIS"] = $"127.0.0.1:{port}", ["CastIron:Client:ConnectTimeout"] = "00:00:02" };

        var code = await CliApp.RunAsync(["status"], output, error, environment);

        Assert.Equal(CliApp.Unreachable, code);
        Assert.Equal($"castiron: cannot reach the cluster at Redis 127.0.0.1:{port}: Redis does not answer (UnableToConnect)", error.ToString().Trim());
    }

    [Fact]
    public async Task CancelAndRetry_OfAFileThatCannot_ExitOne_WithTheClustersAnswer()
    {
        var (code, _, error) = await RunAsync("retry", "0123456789abcdef0123456789abcdef");

        Assert.Equal(CliApp.FileFailed, code);
        Assert.StartsWith("castiron: ", error, StringComparison.Ordinal);
    }

    private Task<(int Code, string Output, string Error)> RunAsync(params string[] arguments) => RunAsync(arguments, gateway: true);

    private async Task<(int Code, string Output, string Error)> RunAsync(string[] arguments, bool gateway, Stream? stdin = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(gateway ? [.. arguments, "--gateway", Gateway] : arguments, output, error, null, stdin);
        return (code, output.ToString(), error.ToString());
    }

    private static string Quote(string path) => $"'{path.Replace("'", "'\\''", StringComparison.Ordinal)}'";

    /// <summary>The silo process the CLI talks to, with the seed's example config and one whose script fails.</summary>
    public sealed class Silo : IAsyncLifetime
    {
        public string Folder { get; } = Path.Combine(Path.GetTempPath(), "castiron-cli-tests", Guid.NewGuid().ToString("N"));

        public SiloProcess Process { get; private set; } = null!;

        private string Bucket => Path.Combine(Folder, "data", "etl");

        public async Task InitializeAsync()
        {
            Process = SiloProcess.StartWith(Folder, ownsFolder: true, null, null, $"--CastIron:Processing:PluginsPath={Path.Combine(AppContext.BaseDirectory, "test-plugins")}");
            try
            {
                await Process.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
                Directory.CreateDirectory(Path.Combine(Bucket, "fail"));
                File.Copy(Example("example_config.toml"), Path.Combine(Bucket, "example_config.toml"));
                await File.WriteAllTextAsync(Path.Combine(Bucket, "fail", "failing.toml"), """
                    [castiron.etl]
                    enabled = true
                    handled_file_glob = ".dat"
                    inbox_dir = "01_inbox"
                    processing_dir = "02_processing"
                    archive_dir = "03_archive"
                    error_dir = "04_failed"
                    save_error_log = true
                    max_attempts = 1
                    shell = 'echo "reading $ETL_FILE_ID"; echo "boom: bad row 7" >&2; exit 3'
                    """);
                Directory.CreateDirectory(Path.Combine(Bucket, "steps"));
                await File.WriteAllTextAsync(Path.Combine(Bucket, "steps", "steps.toml"), """
                    [castiron.etl]
                    enabled = true
                    handled_file_glob = ".steps"
                    inbox_dir = "01_inbox"
                    processing_dir = "02_processing"
                    archive_dir = "03_archive"
                    error_dir = "04_failed"
                    save_error_log = true
                    shell = 'echo "TASK counting" > "$PIZZA_TRACKER"; for i in 1 2 3 4 5 6 7 8 9 10; do echo "PROGRESS $i/10" > "$PIZZA_TRACKER"; sleep 0.2; done'
                    """);
                await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(Bucket, "fail", "01_inbox", ".keep")) && File.Exists(Path.Combine(Bucket, "steps", "01_inbox", ".keep")) && File.Exists(Path.Combine(Bucket, "01_inbox", ".keep"))), () => "the stage folders");
            }
            catch
            {
                await Process.DisposeAsync();
                throw;
            }
        }

        public async Task DisposeAsync() => await Process.DisposeAsync();

        /// <summary>
        /// Runs <c>castiron <paramref name="arguments"/></c> in a new tmux session (a real pseudo-terminal, 120 columns)
        /// and returns the screen once it exited (<c>EXIT=n</c> printed after it).
        /// </summary>
        public async Task<string> InTerminalAsync(string arguments, bool escapes = false, bool noColor = false)
        {
            var session = "castiron-" + Guid.NewGuid().ToString("N")[..8];
            var castiron = CastIronBinary();
            var environment = noColor ? "NO_COLOR=1 " : "";
            Tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-e", "TERM=xterm-256color", $"cd {Quote(Folder)} && {environment}{Quote(castiron)} {arguments}; echo EXIT=$?; sleep 600");
            try
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
                while (true)
                {
                    var screen = Tmux(escapes ? ["capture-pane", "-p", "-e", "-t", session] : ["capture-pane", "-p", "-t", session]);
                    if (screen.Contains("EXIT=", StringComparison.Ordinal))
                    {
                        return screen;
                    }

                    Assert.True(DateTime.UtcNow < deadline, $"castiron {arguments} did not end in the terminal:\n{screen}");
                    await Task.Delay(200);
                }
            }
            finally
            {
                Tmux("kill-session", "-t", session);
            }
        }

        /// <summary>The CLI as its own project built it: the copy in the test folder resolves its dependencies against the test's web framework and does not run.</summary>
        private static string CastIronBinary() => ClientSdkTests.BuiltProject("src", "Orleans.CastIron.Cli", "castiron");

        private static string Tmux(params string[] arguments)
        {
            var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var tmux = System.Diagnostics.Process.Start(start)!;
            var output = tmux.StandardOutput.ReadToEnd();
            tmux.WaitForExit();
            return output;
        }
    }
}
