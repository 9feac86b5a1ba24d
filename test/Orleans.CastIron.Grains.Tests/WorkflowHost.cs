using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Orleans.Hosting;
using Orleans.CastIron.Tests;
using Orleans.TestingHost;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>
/// A cluster wired like the embedded default — the real folder store, watcher, file grain storage and status index in
/// a temporary folder — with fast timings for tests. Tests isolate themselves by using their own config folder.
/// </summary>
public sealed class WorkflowHost : IAsyncDisposable
{
    public const string Bucket = "etl";
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(60);

    private readonly bool _ownsRoot;

    private WorkflowHost(string root, InProcessTestCluster cluster, bool ownsRoot)
    {
        Root = root;
        Cluster = cluster;
        _ownsRoot = ownsRoot;
    }

    public string Root { get; }

    public InProcessTestCluster Cluster { get; }

    public string BucketPath => Path.Combine(Root, Bucket);

    public IServiceProvider Services => Cluster.GetSiloServiceProvider(Cluster.Silos[0].SiloAddress);

    public IFileStatusStore StatusStore => Services.GetRequiredService<IFileStatusStore>();

    /// <summary>Job events as any reader of the cluster gets them, once the silo's sink sent what it has.</summary>
    public JobEventReader JobEvents => new(Services.GetRequiredService<GrainJobEventSink>(), Cluster.Client);

    public IObjectStore Store => Services.GetRequiredService<IObjectStore>();

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>Starts a host; a given <paramref name="root"/> survives disposal (for restart tests), a generated one does not.</summary>
    /// <param name="storage">Registers another object store before the folder adapter (which then provides only state, status and timers).</param>
    public static async Task<WorkflowHost> StartAsync(string? root = null, int maxConcurrency = 8, bool matchContentType = false, Action<ISiloBuilder>? configure = null, bool fastTimings = true, Action<ISiloBuilder>? storage = null, short silos = 1)
    {
        var ownsRoot = root is null;
        root ??= NewRoot();
        Directory.CreateDirectory(Path.Combine(root, Bucket));
        var builder = new InProcessTestClusterBuilder(initialSilosCount: silos).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIron(
                configure: o =>
                {
                    o.RecoveryInterval = TimeSpan.FromSeconds(1);
                    o.MatchContentType = matchContentType;
                },
                configureProcessing: o =>
                {
                    o.MaxConcurrency = maxConcurrency;
                    o.RetryBaseDelay = TimeSpan.FromMilliseconds(50);
                    o.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
                    o.DefaultTimeout = TimeSpan.FromSeconds(30);
                    o.WorkPath = Path.Combine(root, "work");
                });
            storage?.Invoke(silo);
            silo.Services.AddCastIronLocalFolder(Bucket, CastIronNames.GrainStorage, o =>
            {
                o.RootPath = root;
                if (fastTimings)
                {
                    o.ScanInterval = TimeSpan.FromMilliseconds(250);
                    o.SettleTime = TimeSpan.FromMilliseconds(100);
                }
            });
            configure?.Invoke(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new WorkflowHost(root, cluster, ownsRoot);
    }

    public static string NewRoot() => Path.Combine(Path.GetTempPath(), "castiron-tests", Guid.NewGuid().ToString("N"));

    public static void DeleteRoot(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temp folder is not worth failing a test over.
        }
    }

    /// <summary>Drops a file the way a user would: written straight into the bucket folder.</summary>
    public async Task DropAsync(string key, string content)
    {
        var path = Path.Combine(BucketPath, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, content);
    }

    public void Delete(string key) => File.Delete(Path.Combine(BucketPath, key));

    public bool Exists(string key) => File.Exists(Path.Combine(BucketPath, key));

    /// <summary>Object keys (without our reserved folders) under <paramref name="folder"/>.</summary>
    public IReadOnlyList<string> List(string folder) =>
        FolderObjectStoreKeys(Path.Combine(BucketPath, folder));

    private IReadOnlyList<string> FolderObjectStoreKeys(string folder) =>
        !Directory.Exists(folder) ? [] : [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(BucketPath, p).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(k => !k.Split('/').Any(s => s.StartsWith(".castiron", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)];

    /// <summary>Status records of files dropped under <paramref name="folder"/>.</summary>
    public async Task<IReadOnlyList<FileStatusRecord>> FilesAsync(string folder) =>
        [.. (await StatusStore.QueryAsync(null, int.MaxValue)).Where(r => r.JobKey.StartsWith($"{folder}/", StringComparison.Ordinal))];

    /// <summary>Waits until exactly one file dropped under <paramref name="folder"/> as <paramref name="originalName"/> has <paramref name="status"/>.</summary>
    public async Task<FileStatusRecord> WaitForStatusAsync(string folder, string originalName, FileStatus status, TimeSpan? timeout = null)
    {
        FileStatusRecord? last = null;
        await WaitUntilAsync(async () =>
        {
            last = (await FilesAsync(folder)).SingleOrDefault(r => r.OriginalFilename == originalName);
            return last?.Status == status;
        }, timeout, () => $"'{originalName}' in '{folder}' to be {status}; last seen: {last?.Status.ToString() ?? "not tracked"} {last?.Reason}");
        return last!;
    }

    /// <summary>
    /// Waits until this silo's config snapshot, which intake and jobs match with, shows <paramref name="configKey"/> as
    /// <paramref name="condition"/> wants (null: not known). The registry grain shows a change while it is still saving
    /// it, before the silos' snapshots have it; a drop noticed at once (inotify) could still meet the old config.
    /// </summary>
    public async Task<RegisteredConfig?> WaitForConfigAsync(string configKey, Func<RegisteredConfig?, bool> condition, string what)
    {
        var snapshots = Services.GetRequiredService<ConfigSnapshotCache>();
        RegisteredConfig? entry = null;
        await WaitUntilAsync(() =>
        {
            entry = snapshots.Current.Configs.FirstOrDefault(c => c.ConfigKey == configKey);
            return Task.FromResult(condition(entry));
        }, null, () => what);
        return entry;
    }

    /// <summary>Waits for a condition, failing with a message that says what was awaited and what was seen.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {describe()}");
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (_ownsRoot)
        {
            DeleteRoot(Root);
        }
    }
}

/// <summary>One workflow host shared by a test collection.</summary>
public sealed class WorkflowFixture : IAsyncLifetime
{
    private WorkflowHost? _host;

    public WorkflowHost Host => _host ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _host = await WorkflowHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class WorkflowCollection : ICollectionFixture<WorkflowFixture>
{
    public const string Name = "workflow";
}

/// <summary>Reads a job's feed after the silo's sink has sent every event published so far.</summary>
public sealed class JobEventReader(GrainJobEventSink sink, IGrainFactory grains)
{
    public async Task<IReadOnlyList<JobEvent>> EventsAsync(string jobId)
    {
        await sink.FlushAsync();
        return [.. (await grains.GetGrain<IJobEventsGrain>(jobId).ReadAsync(0, 1_000)).Events.Select(e => e.Event)];
    }
}
