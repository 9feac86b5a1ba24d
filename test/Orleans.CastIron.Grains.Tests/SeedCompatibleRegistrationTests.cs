using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.CastIron.Events;
using Orleans.CastIron.Storage;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>Two clusters: the default, which registers what the seed accepted with warnings, and one with strict configs.</summary>
public sealed class SeedCompatibleFixture : IAsyncLifetime
{
    private WorkflowHost? _lenient;
    private WorkflowHost? _strict;

    public LogRecorder Logs { get; } = new();

    public WorkflowHost Lenient => _lenient ?? throw new InvalidOperationException("not started");

    public WorkflowHost Strict => _strict ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _lenient = await WorkflowHost.StartAsync(configure: silo => silo.Services.AddSingleton<ILoggerProvider>(Logs));
        _strict = await WorkflowHost.StartAsync(configure: silo => silo.Services.Configure<CastIronOptions>(o => o.StrictConfigs = true));
    }

    public async Task DisposeAsync()
    {
        foreach (var host in new[] { _lenient, _strict })
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }
}

/// <summary>Every log entry of the silo, as written.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((category, logLevel, formatter(state, exception)));
    }
}

public class SeedCompatibleRegistrationTests(SeedCompatibleFixture fixture) : IClassFixture<SeedCompatibleFixture>
{
    // Written the seed's way: quoted flags and number, a key we do not know, and a shell that would fail next to the
    // python entry point the seed ran instead.
    private const string SeedStyle = """
        title = "seed style"
        [castiron.etl]
        enabled = "true"
        handled_file_glob = ".csv"
        inbox_dir = "01_inbox"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = "false"
        max_concurrency = "2"
        owner = "ops"
        shell = "exit 3"

        [castiron.etl.python]
        worker_run_method = "test.noop"
        """;

    private static readonly (ConfigErrorCode Code, string Key, int Line, int Column)[] SeedForms =
    [
        (ConfigErrorCode.WrongType, "castiron.etl.enabled", 3, 11),
        (ConfigErrorCode.WrongType, "castiron.etl.save_error_log", 9, 18),
        (ConfigErrorCode.WrongType, "castiron.etl.max_concurrency", 10, 19),
        (ConfigErrorCode.UnknownKey, "castiron.etl.owner", 11, 1),
        (ConfigErrorCode.ProcessorChoice, "castiron.etl.shell", 12, 9),
    ];

    private static (ConfigErrorCode, string, int, int)[] Places(IEnumerable<ConfigError> problems) =>
        [.. problems.Select(p => (p.Code, p.Key, p.Line, p.Column))];

    [Fact]
    public async Task SeedStyleConfig_Registers_ListsItsWarnings_LogsThemOnce_AndRunsPythonNotTheShell()
    {
        var host = fixture.Lenient;
        var folder = Configs.Folder();
        var key = $"{folder}/seed.toml";

        await host.DropAsync(key, SeedStyle);
        var entry = await host.WaitForConfigAsync(key, c => c is { Registered: true }, "the seed-style config to be registered");
        await WorkflowHost.WaitUntilAsync(() => Task.FromResult(host.Exists($"{folder}/05_canceled/.keep")), null, () => "its stage folders");

        Assert.Empty(entry!.Errors);
        Assert.Equal(SeedForms, Places(entry.Warnings));
        Assert.Equal(
            "\"true\" is a string, not a boolean: read as true, as the seed would; write enabled = true",
            entry.Warnings[0].Message);
        Assert.Equal(
            "shell and python are both set: python runs and the shell command is ignored, as the seed did; remove one of them",
            entry.Warnings[^1].Message);
        Assert.Equal((ProcessorKind.Python, 2, false), (entry.Config!.Kind, entry.Config.MaxConcurrency, entry.Config.SaveErrorLog));

        await host.DropAsync($"{folder}/01_inbox/data.csv", "a,b\n");
        var record = await host.WaitForStatusAsync(folder, "data.csv", FileStatus.Complete);
        Assert.Equal($"{folder}/03_archive/{record.Id}-data.csv", record.FileName);

        // A repeated notification of the same object is not a new registration: still one warning line.
        await host.Grains.GetGrain<IProcessorRegistryGrain>(WorkflowHost.Bucket).ConfigChangedAsync(key);
        var logged = fixture.Logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains($"'{key}'", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(logged).Message;
        Assert.StartsWith($"Processor config '{key}' uses 5 form(s) only the seed's lenient reading accepted", line, StringComparison.Ordinal);
        Assert.Contains("(12,9) castiron.etl.shell: shell and python are both set", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithStrictConfigs_TheSameConfig_IsNotRegistered_ItsErrorsWhereTheWarningsWere()
    {
        var host = fixture.Strict;
        var folder = Configs.Folder();
        var key = $"{folder}/seed.toml";

        await host.DropAsync(key, SeedStyle);
        var entry = await host.WaitForConfigAsync(key, c => c is not null, "the seed-style config to be read");

        Assert.False(entry!.Registered);
        Assert.Empty(entry.Warnings);
        Assert.Equal(SeedForms, Places(entry.Errors));
        Assert.All(entry.Errors, e => Assert.EndsWith("(refused: CastIron:StrictConfigs is on)", e.Message, StringComparison.Ordinal));
        Assert.False(host.Exists($"{folder}/01_inbox/.keep"));
    }

    [Fact]
    public async Task TurningStrictConfigsOn_RefusesAnUnchangedRegisteredConfig_AtTheNextStart_AndOffRegistersItAgain()
    {
        var root = WorkflowHost.NewRoot();
        const string key = "restart/seed.toml";
        try
        {
            await using (var lenient = await WorkflowHost.StartAsync(root))
            {
                await lenient.DropAsync(key, SeedStyle);
                await lenient.WaitForConfigAsync(key, c => c is { Registered: true }, "the seed-style config to be registered");
            }

            // Restarts see the config only through the start's listing of the bucket (as with S3), not as a new event.
            await using (var strict = await WorkflowHost.StartAsync(root, storage: Silent, configure: silo => silo.Services.Configure<CastIronOptions>(o => o.StrictConfigs = true)))
            {
                var refused = await strict.WaitForConfigAsync(key, c => c is { Registered: false }, "the unchanged config to be refused");
                Assert.Equal(SeedForms, Places(refused!.Errors));
            }

            await using var again = await WorkflowHost.StartAsync(root, storage: Silent);
            var registered = await again.WaitForConfigAsync(key, c => c is { Registered: true }, "the unchanged config to be registered again");
            Assert.Equal(SeedForms, Places(registered!.Warnings));
        }
        finally
        {
            WorkflowHost.DeleteRoot(root);
        }
    }

    private static void Silent(Orleans.Hosting.ISiloBuilder silo) => silo.Services.AddSingleton<IObjectEventSource>(new SilentEventSource());

    /// <summary>Announces nothing, as an S3 bucket says nothing about objects that were there before the silo.</summary>
    private sealed class SilentEventSource : IObjectEventSource
    {
        public async Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken)
        {
            var stopped = new TaskCompletionSource();
            using (cancellationToken.Register(() => stopped.TrySetResult()))
            {
                await stopped.Task;
            }
        }
    }

    [Fact]
    public async Task Validation_AnswersAsRegistrationWould_WarningsByDefault_ErrorsWhenStrict()
    {
        var lenient = await fixture.Lenient.Grains.GetGrain<IConfigValidatorGrain>(0).ValidateAsync("seed.toml", SeedStyle);
        var strict = await fixture.Strict.Grains.GetGrain<IConfigValidatorGrain>(0).ValidateAsync("seed.toml", SeedStyle);

        Assert.True(lenient.IsValid, string.Join("\n", lenient.Errors));
        Assert.Equal(SeedForms, Places(lenient.Warnings));
        Assert.False(strict.IsValid);
        Assert.Equal(SeedForms, Places(strict.Errors));
        Assert.Empty(strict.Warnings);
    }
}
