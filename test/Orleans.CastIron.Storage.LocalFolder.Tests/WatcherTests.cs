using System.Diagnostics;
using Orleans.CastIron.Events;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Xunit;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

/// <summary>A fact that needs inotify, which only Linux has; skipped (and said so) elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "inotify is Linux only";
        }
    }
}

/// <summary>
/// The running event source on real folders with the shipped timings (scan every 2 s, settle time 1 s): a file closed
/// after writing or renamed in is announced at once, and only once; anything else still waits for the scan.
/// </summary>
public sealed class WatcherTests : IAsyncLifetime
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Scan = TimeSpan.FromSeconds(4);

    // Well under the settle time: only an announcement that did not wait for the file to settle is this quick, even
    // on a machine busy with other test assemblies (CI saw 772 ms with a 500 ms bound).
    private static readonly TimeSpan Quick = TimeSpan.FromMilliseconds(1500);

    // Long enough for a full scan after the settle time of anything written before it.
    private static readonly TimeSpan AScanLater = Scan + Settle + TimeSpan.FromMilliseconds(500);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-watch-tests", Guid.NewGuid().ToString("N"));
    private readonly ListLogger<FolderObjectStore> _storeLog = new();
    private readonly ListLogger<FolderObjectEventSource> _sourceLog = new();
    private readonly FolderObjectStore _store;
    private readonly FolderObjectEventSource _source;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Seen> _events = [];
    private Task? _run;

    public WatcherTests()
    {
        var options = new LocalFolderOptions { RootPath = _root, ScanInterval = Scan, SettleTime = Settle };
        _store = new FolderObjectStore(options, logger: _storeLog);
        _source = new FolderObjectEventSource(_store, "etl", options, _sourceLog);
        Directory.CreateDirectory(Inbox);
        // Stage folders exist before files move through them (a config's registration creates them).
        Directory.CreateDirectory(Path.Combine(Bucket, "02_processing"));
        Directory.CreateDirectory(Staging);
        Directory.CreateDirectory(Outside);
    }

    private string Bucket => Path.Combine(_root, "etl");

    private string Inbox => Path.Combine(Bucket, "01_inbox");

    // Beside the bucket, on the same file system, so a move from here into the bucket is a rename.
    private string Staging => Path.Combine(_root, "staging");

    private string Outside => Path.Combine(_root, "outside");

    private IReadOnlyList<string> Warnings => [.. _storeLog.Warnings, .. _sourceLog.Warnings];

    public async Task InitializeAsync()
    {
        _run = Task.Run(() => _source.RunAsync(HandleAsync, _stop.Token));
        // The watch is in place once a file written after the start has been announced.
        await File.WriteAllTextAsync(Path.Combine(Bucket, "probe.txt"), "probe");
        await WaitForAsync(BucketEventKind.Created, "probe.txt", TimeSpan.FromSeconds(10));
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run;
        }

        _stop.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private Task HandleAsync(BucketEvent e, CancellationToken cancellationToken)
    {
        lock (_events)
        {
            _events.Add(new Seen(e.Kind, e.Key, e.ETag, e.Size, e.UserMetadata, Stopwatch.GetTimestamp()));
        }

        return Task.CompletedTask;
    }

    private List<Seen> Events(string key, BucketEventKind? kind = null)
    {
        lock (_events)
        {
            return [.. _events.Where(e => e.Key == key && (kind is null || e.Kind == kind))];
        }
    }

    private async Task<Seen> WaitForAsync(BucketEventKind kind, string key, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Events(key, kind).FirstOrDefault() is { } seen)
            {
                return seen;
            }

            await Task.Delay(5);
        }

        lock (_events)
        {
            Assert.Fail($"no {kind} for '{key}' within {timeout}; seen: {string.Join(", ", _events.Select(e => $"{e.Kind} {e.Key}"))}");
        }

        throw new UnreachableException();
    }

    /// <summary>No version of a file is ever announced twice, whichever way it was noticed.</summary>
    private void AssertNoVersionAnnouncedTwice()
    {
        lock (_events)
        {
            var twice = _events.Where(e => e.Kind == BucketEventKind.Created).GroupBy(e => (e.Key, e.ETag)).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.Empty(twice);
        }
    }

    private static TimeSpan Since(long timestamp, Seen seen) => Stopwatch.GetElapsedTime(timestamp, seen.At);

    [LinuxFact]
    public async Task AFileRenamedIntoTheInbox_IsAnnouncedBeforeTheSettleTimeCouldHaveElapsed_AndOnlyOnce()
    {
        var staged = Path.Combine(Staging, "a.csv");
        // Written just now: a scan could take it only once it has been unchanged for the settle time (1 s).
        await File.WriteAllTextAsync(staged, "x,y\n");
        var renamed = Stopwatch.GetTimestamp();
        File.Move(staged, Path.Combine(Inbox, "a.csv"));

        var seen = await WaitForAsync(BucketEventKind.Created, "01_inbox/a.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(renamed, seen) < Quick, $"announced {Since(renamed, seen).TotalMilliseconds:F0} ms after the rename");
        Assert.Equal(4, seen.Size);
        Assert.Equal((await _store.StatAsync("etl", "01_inbox/a.csv"))!.ETag, seen.ETag);
        await Task.Delay(AScanLater);
        Assert.Single(Events("01_inbox/a.csv"));
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task AFileWrittenAndClosedInTheInbox_IsAnnouncedWithoutTheSettleWait()
    {
        await File.WriteAllTextAsync(Path.Combine(Inbox, "b.csv"), "1,2,3\n");
        var closed = Stopwatch.GetTimestamp();

        var seen = await WaitForAsync(BucketEventKind.Created, "01_inbox/b.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(closed, seen) < Quick, $"announced {Since(closed, seen).TotalMilliseconds:F0} ms after the close");
        Assert.Equal(6, seen.Size);
        await Task.Delay(AScanLater);
        Assert.Single(Events("01_inbox/b.csv"));
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task AFileStillOpenForWriting_IsNotAnnouncedUntilItIsClosed()
    {
        var path = Path.Combine(Inbox, "slow.csv");
        var written = 0;
        long closed;
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
        {
            // Longer than a scan interval plus the settle time, writing more often than the settle time.
            var writing = Stopwatch.StartNew();
            while (writing.Elapsed < AScanLater)
            {
                var line = "row\n"u8.ToArray();
                await stream.WriteAsync(line);
                await stream.FlushAsync();
                written += line.Length;
                Assert.Empty(Events("01_inbox/slow.csv"));
                await Task.Delay(150);
            }

            Assert.Empty(Events("01_inbox/slow.csv"));
            closed = Stopwatch.GetTimestamp();
        }

        var seen = await WaitForAsync(BucketEventKind.Created, "01_inbox/slow.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(closed, seen) < Quick, $"announced {Since(closed, seen).TotalMilliseconds:F0} ms after the close");
        Assert.Equal(written, seen.Size);
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task FoldersCreatedAfterTheStart_AreWatched_AllTheWayDown()
    {
        // Created in one go, as mkdir -p does: the folders below appear before the watch on the first one is added.
        Directory.CreateDirectory(Path.Combine(Bucket, "later", "deep", "01_inbox"));
        await Task.Delay(500);

        await File.WriteAllTextAsync(Path.Combine(Bucket, "later", "deep", "01_inbox", "c.csv"), "c");
        var deepClosed = Stopwatch.GetTimestamp();
        var deep = await WaitForAsync(BucketEventKind.Created, "later/deep/01_inbox/c.csv", TimeSpan.FromSeconds(5));
        await File.WriteAllTextAsync(Path.Combine(Staging, "d.csv"), "d");
        var renamed = Stopwatch.GetTimestamp();
        File.Move(Path.Combine(Staging, "d.csv"), Path.Combine(Bucket, "later", "d.csv"));
        var shallow = await WaitForAsync(BucketEventKind.Created, "later/d.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(deepClosed, deep) < Quick, $"announced {Since(deepClosed, deep).TotalMilliseconds:F0} ms after the close");
        Assert.True(Since(renamed, shallow) < Quick, $"announced {Since(renamed, shallow).TotalMilliseconds:F0} ms after the rename");
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task AFolderMovedIn_IsWatched_AndWhatItHeldIsFoundByTheScan()
    {
        var folder = Path.Combine(Staging, "batch");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "held.csv"), "h");
        Directory.Move(folder, Path.Combine(Bucket, "batch"));

        await WaitForAsync(BucketEventKind.Created, "batch/held.csv", TimeSpan.FromSeconds(5));
        await File.WriteAllTextAsync(Path.Combine(Bucket, "batch", "new.csv"), "n");
        var closed = Stopwatch.GetTimestamp();
        var seen = await WaitForAsync(BucketEventKind.Created, "batch/new.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(closed, seen) < Quick, $"announced {Since(closed, seen).TotalMilliseconds:F0} ms after the close");
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task RemovalsAndMovesAway_StillProduceRemovedEvents_EvenForAFolderMovedAway()
    {
        await File.WriteAllTextAsync(Path.Combine(Inbox, "deleted.csv"), "1");
        await File.WriteAllTextAsync(Path.Combine(Inbox, "moved.csv"), "2");
        Directory.CreateDirectory(Path.Combine(Bucket, "folder"));
        await Task.Delay(500);
        await File.WriteAllTextAsync(Path.Combine(Bucket, "folder", "inside.csv"), "3");
        await WaitForAsync(BucketEventKind.Created, "01_inbox/deleted.csv", TimeSpan.FromSeconds(5));
        await WaitForAsync(BucketEventKind.Created, "01_inbox/moved.csv", TimeSpan.FromSeconds(5));
        await WaitForAsync(BucketEventKind.Created, "folder/inside.csv", TimeSpan.FromSeconds(5));

        File.Delete(Path.Combine(Inbox, "deleted.csv"));
        File.Move(Path.Combine(Inbox, "moved.csv"), Path.Combine(Outside, "moved.csv"));
        Directory.Move(Path.Combine(Bucket, "folder"), Path.Combine(Outside, "folder"));

        await WaitForAsync(BucketEventKind.Removed, "01_inbox/deleted.csv", TimeSpan.FromSeconds(5));
        await WaitForAsync(BucketEventKind.Removed, "01_inbox/moved.csv", TimeSpan.FromSeconds(5));
        await WaitForAsync(BucketEventKind.Removed, "folder/inside.csv", TimeSpan.FromSeconds(5));

        // The folder moved away is not watched any more: what happens in it is not the bucket's.
        await File.WriteAllTextAsync(Path.Combine(Outside, "folder", "after.csv"), "4");
        await Task.Delay(AScanLater);
        Assert.Empty(Events("folder/after.csv"));
        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task AFileRemovedAndRenamedBackUnchanged_IsAnnouncedAgain()
    {
        await File.WriteAllTextAsync(Path.Combine(Inbox, "back.csv"), "1");
        var first = await WaitForAsync(BucketEventKind.Created, "01_inbox/back.csv", TimeSpan.FromSeconds(5));
        File.Move(Path.Combine(Inbox, "back.csv"), Path.Combine(Staging, "back.csv"));
        await WaitForAsync(BucketEventKind.Removed, "01_inbox/back.csv", TimeSpan.FromSeconds(5));

        // Same size and time stamp: still a new arrival.
        File.Move(Path.Combine(Staging, "back.csv"), Path.Combine(Inbox, "back.csv"));
        await Task.Delay(AScanLater);

        var created = Events("01_inbox/back.csv", BucketEventKind.Created);
        Assert.Equal(2, created.Count);
        Assert.Equal(first.ETag, created[1].ETag);
    }

    [LinuxFact]
    public async Task TheStoresOwnWritesAndMoves_AreDeliveredAsBefore_WithTheirMetadata()
    {
        var metadata = new Dictionary<string, string> { ["originalfilename"] = "e.csv" };
        await _store.WriteTextAsync("etl", "01_inbox/e.csv", "e", metadata);
        var written = Stopwatch.GetTimestamp();
        var created = await WaitForAsync(BucketEventKind.Created, "01_inbox/e.csv", TimeSpan.FromSeconds(5));

        await _store.MoveAsync("etl", "01_inbox/e.csv", "02_processing/e.csv", metadata);
        var moved = Stopwatch.GetTimestamp();
        var arrived = await WaitForAsync(BucketEventKind.Created, "02_processing/e.csv", TimeSpan.FromSeconds(5));
        await WaitForAsync(BucketEventKind.Removed, "01_inbox/e.csv", TimeSpan.FromSeconds(5));

        Assert.True(Since(written, created) < Quick, $"announced {Since(written, created).TotalMilliseconds:F0} ms after the write");
        Assert.True(Since(moved, arrived) < Quick, $"announced {Since(moved, arrived).TotalMilliseconds:F0} ms after the move");
        Assert.Equal("e.csv", created.Metadata["originalfilename"]);
        Assert.Equal("e.csv", arrived.Metadata["originalfilename"]);
        // Neither the metadata sidecars nor the store's temporary files are objects.
        await Task.Delay(AScanLater);
        lock (_events)
        {
            Assert.DoesNotContain(_events, e => e.Key.Contains(".castiron", StringComparison.Ordinal));
        }

        AssertNoVersionAnnouncedTwice();
    }

    [LinuxFact]
    public async Task Links_AreStillNeitherAnnouncedNorFollowed()
    {
        await File.WriteAllTextAsync(Path.Combine(Outside, "secret.txt"), "root:secret");
        // A link renamed into the inbox (IN_MOVED_TO), a link made there, and a linked folder with a file written
        // inside it after the start.
        File.CreateSymbolicLink(Path.Combine(Staging, "moved-link.csv"), Path.Combine(Outside, "secret.txt"));
        File.Move(Path.Combine(Staging, "moved-link.csv"), Path.Combine(Inbox, "moved-link.csv"));
        File.CreateSymbolicLink(Path.Combine(Inbox, "made-link.csv"), Path.Combine(Outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(Inbox, "sub"), Outside);
        await Task.Delay(500);
        await File.WriteAllTextAsync(Path.Combine(Outside, "through.csv"), "t");
        await File.WriteAllTextAsync(Path.Combine(Inbox, "real.csv"), "r");

        await WaitForAsync(BucketEventKind.Created, "01_inbox/real.csv", TimeSpan.FromSeconds(5));
        await Task.Delay(AScanLater);

        lock (_events)
        {
            Assert.Equal(["01_inbox/real.csv", "probe.txt"], _events.Select(e => e.Key).Order(StringComparer.Ordinal));
        }

        Assert.Single(Warnings, w => w.Contains("01_inbox/moved-link.csv", StringComparison.Ordinal) && w.Contains("symbolic link", StringComparison.Ordinal));
        Assert.Single(Warnings, w => w.Contains("01_inbox/made-link.csv", StringComparison.Ordinal));
        Assert.Single(Warnings, w => w.Contains("01_inbox/sub", StringComparison.Ordinal));
    }

    private sealed record Seen(BucketEventKind Kind, string Key, string? ETag, long? Size, IReadOnlyDictionary<string, string> Metadata, long At);
}
