using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Processing.Python;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>
/// Python processors and payload handlers on the system's <c>python3</c> (the test set-up installs Debian's), through
/// the whole workflow: the seed's calling rules, warm workers, and what happens when the code misbehaves.
/// </summary>
[Collection(PythonCollection.Name)]
public sealed class PythonProcessorTests(PythonFixture fixture)
{
    private WorkflowHost Host => fixture.Host;

    private string Report { get; } = Path.Combine(Path.GetTempPath(), "castiron-python-reports", Guid.NewGuid().ToString("N") + ".jsonl");

    private static string Config(string python, string extraEtl = "", string kwargs = "") => Configs.Python(python, extraEtl, kwargs);

    private async Task<string> RegisterAsync(string config)
    {
        var folder = Configs.Folder();
        Directory.CreateDirectory(Path.GetDirectoryName(Report)!);
        await Host.DropAsync($"{folder}/cfg.toml", config);
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(Host.Exists($"{folder}/05_canceled/.keep")), null, () => $"config in '{folder}' to be registered");
        return folder;
    }

    private List<JsonElement> Reports() =>
        File.Exists(Report) ? [.. File.ReadAllLines(Report).Select(l => JsonDocument.Parse(l).RootElement)] : [];

    private async Task<string> ErrorLogAsync(FileStatusRecord record) =>
        await File.ReadAllTextAsync(Path.Combine(Host.BucketPath, record.ErrorLogKey!));

    [Fact]
    public async Task ModuleFunction_GetsTheLocalPathFirst_ThenStaticKwargs_ThenEnvironmentKwargsOverriding()
    {
        var variable = "CASTIRON_TEST_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, "from-environment");
        var folder = await RegisterAsync(Config(
            $"""
            worker_run_method = "castiron_tests.processors.function"
            [castiron.etl.python.environment_kwargs]
            overridden = "{variable}"
            unset = "CASTIRON_TEST_NOT_SET_ANYWHERE"
            """,
            kwargs: $"""
            report = '{Report}'
            overridden = "static"
            number = 42
            list = [1, "two"]
            """));

        await Host.DropAsync($"{folder}/01_inbox/data.csv", "a,b\n1,2\n");
        var record = await Host.WaitForStatusAsync(folder, "data.csv", FileStatus.Complete);

        var report = Assert.Single(Reports());
        Assert.Equal("a,b\n1,2\n", report.GetProperty("content").GetString());
        Assert.EndsWith($"{record.Id}-data.csv", report.GetProperty("file_path").GetString(), StringComparison.Ordinal);
        // Run in the job folder, which holds the file.
        Assert.Equal(Path.GetDirectoryName(report.GetProperty("file_path").GetString()), report.GetProperty("cwd").GetString());
        var kwargs = report.GetProperty("kwargs");
        Assert.Equal("from-environment", kwargs.GetProperty("overridden").GetString());
        Assert.Equal(42, kwargs.GetProperty("number").GetInt32());
        Assert.Equal("[1,\"two\"]", kwargs.GetProperty("list").GetRawText().Replace(" ", "", StringComparison.Ordinal));
        Assert.False(kwargs.TryGetProperty("unset", out _), "an environment variable not set on the silo passes nothing");
        Assert.False(kwargs.TryGetProperty("file_metadata", out _), "metadata only when supports_metadata");
    }

    [Fact]
    public async Task Metadata_AndCoroutineFunctions_AsTheSeedCalledThem()
    {
        var folder = await RegisterAsync(Config(
            """
            worker_run_method = "castiron_tests.processors.function"
            supports_metadata = true
            """,
            kwargs: $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/meta.csv", "x");
        var record = await Host.WaitForStatusAsync(folder, "meta.csv", FileStatus.Complete);

        var metadata = Assert.Single(Reports()).GetProperty("kwargs").GetProperty("file_metadata");
        Assert.Equal(record.Id, metadata.GetProperty("id").GetString());
        Assert.Equal("meta.csv", metadata.GetProperty("originalfilename").GetString());
        Assert.Equal("Processing", metadata.GetProperty("status").GetString());

        var coroutine = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.coroutine\"", kwargs: $"report = '{Report}'"));
        await Host.DropAsync($"{coroutine}/01_inbox/async.csv", "x");
        await Host.WaitForStatusAsync(coroutine, "async.csv", FileStatus.Complete);
        Assert.Contains(Reports(), r => r.GetProperty("kind").GetString() == "coroutine");
    }

    [Fact]
    public async Task WorkerClass_WithoutSetup_GetsTheKwargsInTheRun_WithSetup_TheSetupGetsThem()
    {
        var plain = await RegisterAsync(Config(
            """
            worker_class = "castiron_tests.processors.Worker"
            worker_run_method = "run"
            """,
            kwargs: $"report = '{Report}'\nextra = 1"));
        var withSetup = await RegisterAsync(Config(
            """
            worker_class = "castiron_tests.processors.Worker"
            worker_run_method = "run"
            worker_setup_method = "setup"
            """,
            kwargs: $"report = '{Report}'\nextra = 2"));

        await Host.DropAsync($"{plain}/01_inbox/a.csv", "x");
        await Host.WaitForStatusAsync(plain, "a.csv", FileStatus.Complete);
        await Host.DropAsync($"{withSetup}/01_inbox/b.csv", "x");
        await Host.WaitForStatusAsync(withSetup, "b.csv", FileStatus.Complete);

        var reports = Reports();
        Assert.Equal(2, reports.Count);
        Assert.Equal(JsonValueKind.Null, reports[0].GetProperty("configured").ValueKind);
        Assert.Equal(1, reports[0].GetProperty("kwargs").GetProperty("extra").GetInt32());
        Assert.Equal(2, reports[1].GetProperty("configured").GetProperty("extra").GetInt32());
        Assert.Equal("{}", reports[1].GetProperty("kwargs").GetRawText());
    }

    [Fact]
    public async Task WarmWorkers_ImportTheModuleOnce_AndServeTheNextFiles()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.function\"", "max_concurrency = 1", $"report = '{Report}'"));
        var started = fixture.Pool.Started;

        for (var i = 0; i < 4; i++)
        {
            await Host.DropAsync($"{folder}/01_inbox/w{i}.csv", "x");
            await Host.WaitForStatusAsync(folder, $"w{i}.csv", FileStatus.Complete);
        }

        var reports = Reports();
        Assert.Single(reports.Select(r => r.GetProperty("pid").GetInt32()).Distinct());
        Assert.All(reports, r => Assert.Equal(1, r.GetProperty("imports").GetInt32()));
        Assert.True(fixture.Pool.Started - started <= 1, $"{fixture.Pool.Started - started} workers started for 4 files one after another");
    }

    [Fact]
    public async Task PizzaTracker_LinesBecomeJobEvents_AndTheJobSaysItRanOnPython()
    {
        var folder = await RegisterAsync(Config(
            """
            worker_run_method = "castiron_tests.processors.tracker"
            supports_pizza_tracker = true
            """,
            kwargs: $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/t.csv", "x");
        var record = await Host.WaitForStatusAsync(folder, "t.csv", FileStatus.Complete);

        var events = await Host.JobEvents.EventsAsync(record.JobId!);
        Assert.Equal(record.JobId, Assert.Single(Reports()).GetProperty("job").GetString());
        var updates = events.Skip(1).ToList();
        Assert.Equal(JobEvent.TaskUpdate(record.JobId!, "parsing"), updates[0]);
        Assert.Equal(JobEvent.ProgressUpdate(record.JobId!, 0.25), updates[1]);
        Assert.Equal(JobEvent.ProgressUpdate(record.JobId!, 0.5), updates[2]);
        Assert.Equal(JobEvent.CommittedUpdate(record.JobId!, 7), updates[3]);
        Assert.StartsWith("castiron_tests.processors.tracker ran on Python 3.", updates[4].Task, StringComparison.Ordinal);
        Assert.Equal(JobEvent.StatusUpdate(record.JobId!, "success"), updates[^1]);
    }

    [Fact]
    public async Task TrackerFifoLeftOpen_DoesNotHoldTheJob_TheWorkerIsReplaced()
    {
        var folder = await RegisterAsync(Config(
            """
            worker_run_method = "castiron_tests.processors.tracker_left_open"
            supports_pizza_tracker = true
            """,
            kwargs: $"report = '{Report}'"));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await Host.DropAsync($"{folder}/01_inbox/open.csv", "x");
        var record = await Host.WaitForStatusAsync(folder, "open.csv", FileStatus.Complete);

        // Not the five seconds a held FIFO would cost at each file.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4.5), $"took {clock.Elapsed}");
        Assert.Contains(JobEvent.TaskUpdate(record.JobId!, "kept open"), await Host.JobEvents.EventsAsync(record.JobId!));
    }

    [Fact]
    public async Task Exception_FailsTheFile_WithTheTracebackAndItsOutputInTheErrorLog()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/bad.csv", "raise");
        var record = await Host.WaitForStatusAsync(folder, "bad.csv", FileStatus.Failed);

        Assert.Equal("the Python code raised ValueError: bad row 1", record.Reason);
        var log = await ErrorLogAsync(record);
        Assert.Contains("Traceback (most recent call last):", log, StringComparison.Ordinal);
        Assert.Contains("processors.py\", line", log, StringComparison.Ordinal);
        Assert.Contains("in behave", log, StringComparison.Ordinal);
        Assert.Contains("about to raise", log, StringComparison.Ordinal);
        Assert.Contains("stderr says raise", log, StringComparison.Ordinal);
        Assert.DoesNotContain("castiron_worker", log, StringComparison.Ordinal);
        Assert.DoesNotContain("<string>", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwentyMebibytesOfOutput_KeepTheErrorLogBounded_WithTheTracebackAtItsEnd()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/flood.csv", "flood");
        var record = await Host.WaitForStatusAsync(folder, "flood.csv", FileStatus.Failed);

        Assert.Equal("the Python code raised RuntimeError: after 20 MiB of output", record.Reason);
        var log = await ErrorLogAsync(record);
        Assert.True(log.Length < 256 * 1024, $"an error log of {log.Length} characters");
        Assert.Contains("RuntimeError: after 20 MiB of output", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SysExitAndImportErrors_FailOnlyTheirFile()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));
        var missing = await RegisterAsync(Config("worker_run_method = \"castiron_tests.no_such_module.process\"", "max_attempts = 1"));

        await Host.DropAsync($"{folder}/01_inbox/exit.csv", "exit");
        var exited = await Host.WaitForStatusAsync(folder, "exit.csv", FileStatus.Failed);
        await Host.DropAsync($"{missing}/01_inbox/m.csv", "x");
        var notFound = await Host.WaitForStatusAsync(missing, "m.csv", FileStatus.Failed);
        await Host.DropAsync($"{folder}/01_inbox/after.csv", "ok");
        await Host.WaitForStatusAsync(folder, "after.csv", FileStatus.Complete);

        Assert.Equal("the Python code raised SystemExit: 4", exited.Reason);
        Assert.Equal("could not load the Python code: ModuleNotFoundError: No module named 'castiron_tests.no_such_module'", notFound.Reason);
    }

    [Fact]
    public async Task HungWorker_IsKilledAtTheTimeout_AndTheNextFileIsProcessed()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1\ntimeout_seconds = 2", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/hang.csv", "hang");
        var hung = await Host.WaitForStatusAsync(folder, "hang.csv", FileStatus.Failed);
        await Host.DropAsync($"{folder}/01_inbox/next.csv", "ok");
        await Host.WaitForStatusAsync(folder, "next.csv", FileStatus.Complete);

        Assert.Equal("timed out after 2 s", hung.Reason);
        Assert.Contains("about to hang", await ErrorLogAsync(hung), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrashingWorker_FailsItsFile_AndIsReplaced()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/crash.csv", "crash");
        var crashed = await Host.WaitForStatusAsync(folder, "crash.csv", FileStatus.Failed);
        await Host.DropAsync($"{folder}/01_inbox/next.csv", "ok");
        await Host.WaitForStatusAsync(folder, "next.csv", FileStatus.Complete);

        Assert.Matches(@"^the Python worker \(pid \d+\) exited with code 3$", crashed.Reason);
        Assert.Contains("about to crash", await ErrorLogAsync(crashed), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerPastTheMemoryLimit_IsKilled_NamingTheSetting()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/grow.csv", "grow");
        var grown = await Host.WaitForStatusAsync(folder, "grow.csv", FileStatus.Failed);
        await Host.DropAsync($"{folder}/01_inbox/next.csv", "ok");
        await Host.WaitForStatusAsync(folder, "next.csv", FileStatus.Complete);

        Assert.Contains($"more than CastIron:Python:MemoryLimitMiB ({PythonFixture.MemoryLimitMiB}); it was killed", grown.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChildProcessesLeftRunning_AreKilled_AndChildOutputReachesTheLog()
    {
        var folder = await RegisterAsync(Config("worker_run_method = \"castiron_tests.processors.behave\"", "max_attempts = 1", $"report = '{Report}'"));

        await Host.DropAsync($"{folder}/01_inbox/child.csv", "child");
        await Host.WaitForStatusAsync(folder, "child.csv", FileStatus.Complete);
        var child = Assert.Single(Reports()).GetProperty("child").GetInt32();

        Assert.False(Directory.Exists($"/proc/{child}") && !File.ReadAllText($"/proc/{child}/stat").Contains(") Z ", StringComparison.Ordinal), $"the processor's child {child} is still running");
    }

    [Fact]
    public async Task PayloadHandlers_RunOnPythonOnlyWhenAllowed()
    {
        var dispatcher = Host.Services.GetRequiredService<PayloadDispatcher>();
        var logger = Host.Services.GetRequiredService<ILogger<PythonProcessorTests>>();
        var allowed = Encoding.UTF8.GetBytes($$"""{"worker_run_method":"castiron_tests.processors.handler","data":{"field1":1},"out":"{{Report}}","arg1":"test"}""");
        var text = Encoding.UTF8.GetBytes($$"""{"worker_run_method":"castiron_tests.processors.handler","data":"plain text","out":"{{Report}}"}""");
        var refused = Encoding.UTF8.GetBytes("""{"worker_run_method":"os.system","data":"touch /tmp/castiron-pwned"}""");
        Directory.CreateDirectory(Path.GetDirectoryName(Report)!);

        Assert.Null(await dispatcher.DispatchAsync(allowed, "test", logger, null, CancellationToken.None));
        Assert.Null(await dispatcher.DispatchAsync(text, "test", logger, null, CancellationToken.None));
        var problem = await dispatcher.DispatchAsync(refused, "test", logger, null, CancellationToken.None);

        var reports = Reports();
        Assert.Equal(1, reports[0].GetProperty("data").GetProperty("field1").GetInt32());
        Assert.Equal("test", reports[0].GetProperty("kwargs").GetProperty("arg1").GetString());
        Assert.Equal("plain text", reports[1].GetProperty("data").GetString());
        Assert.StartsWith("no payload handler is registered as 'os.system' (registered: ", problem, StringComparison.Ordinal);
        Assert.EndsWith("), and CastIron:Python:AllowedHandlers does not allow it to run on Python", problem, StringComparison.Ordinal);
        Assert.False(File.Exists("/tmp/castiron-pwned"));
    }

    [Fact]
    public async Task PayloadHandler_ThatRaises_IsReportedWithItsError()
    {
        var dispatcher = Host.Services.GetRequiredService<PayloadDispatcher>();
        var logger = Host.Services.GetRequiredService<ILogger<PythonProcessorTests>>();
        // 'out' missing: the handler's own TypeError.
        var message = Encoding.UTF8.GetBytes("""{"worker_run_method":"castiron_tests.processors.handler","data":"x"}""");

        var problem = await dispatcher.DispatchAsync(message, "test", logger, null, CancellationToken.None);

        Assert.Equal("handler 'castiron_tests.processors.handler' failed: the Python code raised TypeError: handler() missing 1 required positional argument: 'out'", problem);
    }
}

/// <summary>A workflow host whose silo runs Python: the test modules on the path, their payload handler allowed.</summary>
public sealed class PythonFixture : IAsyncLifetime
{
    public const int MemoryLimitMiB = 300;

    private WorkflowHost? _host;

    public WorkflowHost Host => _host ?? throw new InvalidOperationException("not started");

    public PythonWorkerPool Pool => Host.Services.GetRequiredService<PythonWorkerPool>();

    public async Task InitializeAsync() => _host = await WorkflowHost.StartAsync(configure: silo => silo.Services.Configure<PythonOptions>(o =>
    {
        o.Path = Path.Combine(AppContext.BaseDirectory, "python");
        o.AllowedHandlers = "castiron_tests.processors.handler";
        o.MemoryLimitMiB = MemoryLimitMiB;
    }));

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PythonCollection : ICollectionFixture<PythonFixture>
{
    public const string Name = "python";
}
