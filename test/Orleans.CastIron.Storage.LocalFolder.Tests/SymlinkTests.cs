using Orleans.CastIron.Storage.LocalFolder.Providers;
using Xunit;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

/// <summary>The folder store never follows a symbolic link, to a file or a folder, and says so once per link.</summary>
public sealed class SymlinkTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-link-tests", Guid.NewGuid().ToString("N"));
    private readonly ListLogger<FolderObjectStore> _storeLog = new();
    private readonly ListLogger<FolderObjectEventSource> _sourceLog = new();
    private readonly FolderObjectStore _store;
    private readonly FolderObjectEventSource _source;

    public SymlinkTests()
    {
        var options = new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.Zero };
        _store = new FolderObjectStore(options, logger: _storeLog);
        _source = new FolderObjectEventSource(_store, "etl", options, _sourceLog);
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Path.Combine(Outside, "secret.txt"), "root:secret");
        Directory.CreateDirectory(Bucket);
    }

    private IObjectStore Store => _store;

    private string Bucket => Path.Combine(_root, "etl");

    private string Outside => Path.Combine(_root, "outside");

    private IReadOnlyList<string> Warnings => [.. _storeLog.Warnings, .. _sourceLog.Warnings];

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
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

    private async Task<List<string>> ListAsync() =>
        await Store.ListAsync("etl", "", recursive: true).Select(i => i.Key).ToListAsync();

    [Fact]
    public async Task ALinkInAnInbox_ToAFileOutside_IsNeitherListedStatedReadNorAnnounced()
    {
        await Store.WriteTextAsync("etl", "01_inbox/real.csv", "1");
        File.CreateSymbolicLink(Path.Combine(Bucket, "01_inbox", "shadow.csv"), Path.Combine(Outside, "secret.txt"));

        Assert.Equal(["01_inbox/real.csv"], await ScanAsync());
        Assert.Equal(["01_inbox/real.csv"], await ListAsync());
        Assert.Null(await Store.StatAsync("etl", "01_inbox/shadow.csv"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("etl", "01_inbox/shadow.csv"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.CopyAsync("etl", "01_inbox/shadow.csv", "02_processing/x.csv", null));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.MoveAsync("etl", "01_inbox/shadow.csv", "02_processing/x.csv", null));
        await ScanAsync();

        Assert.False(File.Exists(Path.Combine(Bucket, "02_processing", "x.csv")));
        Assert.Single(Warnings, w => w.Contains("01_inbox/shadow.csv", StringComparison.Ordinal) && w.Contains("symbolic link", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALinkToTheBucketItself_ProducesNoAliasKeys()
    {
        await Store.WriteTextAsync("etl", "example_config.toml", "x");
        Directory.CreateSymbolicLink(Path.Combine(Bucket, "loop"), ".");

        Assert.Equal(["example_config.toml"], await ScanAsync());
        Assert.Equal(["example_config.toml"], await ListAsync());
        Assert.Null(await Store.StatAsync("etl", "loop/example_config.toml"));
        Assert.Single(Warnings, w => w.Contains("'loop'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ADirectoryLink_IsSkipped()
    {
        Directory.CreateDirectory(Path.Combine(Bucket, "01_inbox"));
        Directory.CreateSymbolicLink(Path.Combine(Bucket, "01_inbox", "sub"), Outside);

        Assert.Empty(await ScanAsync());
        Assert.Empty(await ListAsync());
        Assert.Empty(await Store.ListAsync("etl", "01_inbox/sub", recursive: true).ToListAsync());
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("etl", "01_inbox/sub/secret.txt"));
    }

    [Fact]
    public async Task AStageFolderThatIsALink_IsRefused_AndNothingIsWrittenOutside()
    {
        await Store.WriteTextAsync("etl", "01_inbox/a.csv", "1");
        Directory.CreateSymbolicLink(Path.Combine(Bucket, "03_archive"), Outside);

        var move = await Assert.ThrowsAsync<IOException>(() => Store.MoveAsync("etl", "01_inbox/a.csv", "03_archive/a.csv", null));
        await Assert.ThrowsAsync<IOException>(() => Store.WriteTextAsync("etl", "03_archive/b.csv", "2"));
        await Assert.ThrowsAsync<IOException>(() => Store.CopyAsync("etl", "01_inbox/a.csv", "03_archive/c.csv", null));
        await Store.DeleteAsync("etl", "03_archive/secret.txt");

        Assert.Contains("symbolic link", move.Message, StringComparison.Ordinal);
        Assert.Equal(["secret.txt"], Directory.GetFiles(Outside).Select(Path.GetFileName));
        Assert.NotNull(await Store.StatAsync("etl", "01_inbox/a.csv"));
    }

    [Fact]
    public async Task AMetadataFolderThatIsALink_IsNeitherWrittenNorReadThrough()
    {
        Directory.CreateDirectory(Path.Combine(Bucket, "01_inbox"));
        Directory.CreateSymbolicLink(Path.Combine(Bucket, "01_inbox", ".castiron-meta"), Outside);
        File.WriteAllText(Path.Combine(Outside, "a.csv.json"), """{"ContentType":"x/y","Metadata":{"id":"forged"}}""");
        File.WriteAllText(Path.Combine(Bucket, "01_inbox", "a.csv"), "1");

        await Assert.ThrowsAsync<IOException>(() => Store.WriteTextAsync("etl", "01_inbox/b.csv", "2"));
        var info = await Store.StatAsync("etl", "01_inbox/a.csv");

        Assert.NotNull(info);
        Assert.Empty(info.Metadata);
        Assert.Equal(["a.csv.json", "secret.txt"], Directory.GetFiles(Outside).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
