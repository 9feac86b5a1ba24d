using Orleans.CastIron.Events;
using Orleans.CastIron.Paths;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Xunit;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

/// <summary>Names the file system or the workflow cannot take: each is that file's problem, never the scan's.</summary>
public sealed class HostileNameTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-hostile-tests", Guid.NewGuid().ToString("N"));
    private readonly ListLogger<FolderObjectStore> _storeLog = new();
    private readonly ListLogger<FolderObjectEventSource> _sourceLog = new();
    private readonly FolderObjectStore _store;
    private readonly FolderObjectEventSource _source;

    public HostileNameTests()
    {
        var options = new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.Zero };
        _store = new FolderObjectStore(options, logger: _storeLog);
        _source = new FolderObjectEventSource(_store, "etl", options, _sourceLog);
    }

    private IObjectStore Store => _store;

    private string Bucket => Path.Combine(_root, "etl");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private void DropOnDisk(string key, string content = "x")
    {
        var path = Path.Combine(Bucket, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private async Task<List<string>> ScanAsync()
    {
        var seen = new List<string>();
        await _source.ScanAsync((e, _) =>
        {
            lock (seen)
            {
                seen.Add(e.Key);
            }

            return Task.CompletedTask;
        }, CancellationToken.None);
        return [.. seen.Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task LeavesOf250And253Bytes_DoNotStopTheScan_TheUnstorableOneIsSkippedWithItsReason()
    {
        // 250 bytes plus the sidecar's ".json" is exactly a file name's 255; 253 bytes cannot have a sidecar.
        var fits = new string('f', 246) + ".csv";
        var tooLong = new string('x', 249) + ".csv";
        DropOnDisk("a/01_inbox/" + tooLong);
        DropOnDisk("a/01_inbox/" + fits);
        DropOnDisk("a/01_inbox/first.csv");
        DropOnDisk("b/01_inbox/later.csv");

        var keys = await ScanAsync();
        await ScanAsync();

        Assert.Equal(["a/01_inbox/" + fits, "a/01_inbox/first.csv", "b/01_inbox/later.csv"], keys);
        var warning = Assert.Single(_sourceLog.Warnings);
        Assert.Contains(tooLong, warning, StringComparison.Ordinal);
        Assert.Contains("253 UTF-8 bytes", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANameWithANewline_IsReportedOnce_NotSilentlyIgnored()
    {
        DropOnDisk("01_inbox/evil\nname.csv");
        DropOnDisk("01_inbox/ok.csv");

        Assert.Equal(["01_inbox/ok.csv"], await ScanAsync());
        await ScanAsync();
        Assert.Equal(["01_inbox/ok.csv"], await Store.ListAsync("etl", "", recursive: true).Select(i => i.Key).ToListAsync());

        var warning = Assert.Single(_sourceLog.Warnings);
        // Named, but escaped: a newline in a log line would let a file name forge log lines.
        Assert.Contains("01_inbox/evil\\nname.csv", warning, StringComparison.Ordinal);
        Assert.Contains("control character", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANameThatCannotBeTaken_IsNotReportedRemovedEither()
    {
        DropOnDisk("01_inbox/evil\nname.csv");
        Assert.Empty(await ScanAsync());

        File.Delete(Path.Combine(Bucket, "01_inbox", "evil\nname.csv"));

        Assert.Empty(await ScanAsync());
    }

    [Fact]
    public async Task ObjectsThatFailOneByOne_DoNotStopTheScan()
    {
        DropOnDisk("01_inbox/a.csv");
        DropOnDisk("01_inbox/b.csv");
        // A metadata sidecar the store cannot read (a folder where a file should be) fails only its own object.
        Directory.CreateDirectory(Path.Combine(Bucket, "01_inbox", ".castiron-meta", "a.csv.json"));

        var keys = await ScanAsync();

        Assert.Equal(["01_inbox/b.csv"], keys);
        Assert.Single(_sourceLog.Warnings, w => w.Contains("01_inbox/a.csv", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALeafTooLongForItsSidecar_IsAClearArgumentException()
    {
        var key = "01_inbox/" + new string('y', 251);

        var write = await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteTextAsync("etl", key, "x"));
        Assert.Contains("251 UTF-8 bytes", write.Message, StringComparison.Ordinal);

        await Store.WriteTextAsync("etl", "01_inbox/a.csv", "x");
        await Assert.ThrowsAsync<ArgumentException>(() => Store.MoveAsync("etl", "01_inbox/a.csv", key, null));
        Assert.NotNull(await Store.StatAsync("etl", "01_inbox/a.csv"));
    }

    [Fact]
    public async Task TheLongestRenamableName_IsStoredMovedAndDescribedWithItsMetadata()
    {
        var leaf = new string('z', ObjectKeys.MaxRenamableLeafBytes);
        var drop = "01_inbox/" + leaf;
        var renamed = $"01_inbox/{Guid.NewGuid()}-{leaf}";
        Assert.Null(ObjectKeys.ValidateRenamable(drop));
        DropOnDisk(drop);

        await Store.MoveAsync("etl", drop, renamed, new Dictionary<string, string> { ["id"] = "1" });
        await Store.MoveAsync("etl", renamed, "04_failed/" + ObjectKeys.Leaf(renamed), null);
        await Store.WriteTextAsync("etl", "04_failed/" + ObjectKeys.Leaf(renamed) + "_error_log_.txt", "log");

        Assert.Equal("1", (await Store.StatAsync("etl", "04_failed/" + ObjectKeys.Leaf(renamed)))!.Metadata["id"]);
    }
}
