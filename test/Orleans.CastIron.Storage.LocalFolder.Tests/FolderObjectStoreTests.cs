using Microsoft.Extensions.Logging.Abstractions;
using Orleans.CastIron.Events;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.LocalFolder;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Xunit;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

public sealed class FolderObjectStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-folder-tests", Guid.NewGuid().ToString("N"));
    private readonly FolderObjectStore _store;

    public FolderObjectStoreTests() => _store = new FolderObjectStore(new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.Zero });

    private IObjectStore Store => _store;

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static Dictionary<string, string> Meta(params (string Key, string Value)[] pairs) => pairs.ToDictionary(p => p.Key, p => p.Value);

    [Fact]
    public async Task WriteStatRead_RoundTripContentAndMetadata_KeysLowerCasedWithoutPrefix()
    {
        await Store.WriteTextAsync("etl", "in/a b.csv", "x,y", Meta(("X-Amz-Meta-Originalfilename", "a b.csv"), ("Owner_DN", "cn=me")));

        var info = await Store.StatAsync("etl", "in/a b.csv");

        Assert.NotNull(info);
        Assert.Equal(3, info.Size);
        Assert.Equal("a b.csv", info.Metadata["originalfilename"]);
        Assert.Equal("cn=me", info.Metadata["owner_dn"]);
        Assert.Equal("text/plain; charset=utf-8", info.ContentType);
        Assert.Equal("x,y", await Store.ReadTextAsync("etl", "in/a b.csv"));
    }

    [Fact]
    public async Task Listing_HidesSidecarsAndTemporaryFiles()
    {
        await Store.WriteTextAsync("etl", "in/a.csv", "1", Meta(("k", "v")));
        await Store.WriteTextAsync("etl", "in/sub/b.csv", "2");

        var direct = await Store.ListAsync("etl", "in", recursive: false).Select(i => i.Key).ToListAsync();
        var all = await Store.ListAsync("etl", "", recursive: true).Select(i => i.Key).ToListAsync();

        Assert.Equal(["in/a.csv"], direct);
        Assert.Equal(["in/a.csv", "in/sub/b.csv"], all);
        Assert.True(Directory.Exists(Path.Combine(_root, "etl", "in", ".castiron-meta")));
    }

    [Fact]
    public async Task Move_ReplacesMetadata_AndRepeatingItIsHarmless()
    {
        await Store.WriteTextAsync("etl", "in/a.csv", "1", Meta(("status", "x")));

        await Store.MoveAsync("etl", "in/a.csv", "done/a.csv", Meta(("status", "Complete")));
        await Store.MoveAsync("etl", "in/a.csv", "done/a.csv", Meta(("status", "Complete")));

        Assert.Null(await Store.StatAsync("etl", "in/a.csv"));
        Assert.Equal("Complete", (await Store.StatAsync("etl", "done/a.csv"))!.Metadata["status"]);
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.MoveAsync("etl", "in/none.csv", "done/none.csv", null));
    }

    [Fact]
    public async Task MoveOntoItself_ReplacesTheMetadata_AndKeepsTheContent()
    {
        await Store.WriteTextAsync("etl", "work/a.csv", "1", Meta(("status", "Processing"), ("id", "7")));

        await Store.MoveAsync("etl", "work/a.csv", "work/a.csv", Meta(("status", "Complete"), ("id", "7")));

        var info = await Store.StatAsync("etl", "work/a.csv");
        Assert.Equal("Complete", info!.Metadata["status"]);
        Assert.Equal("1", await Store.ReadTextAsync("etl", "work/a.csv"));
    }

    [Fact]
    public async Task Copy_WithNullMetadata_KeepsTheSourceMetadata()
    {
        await Store.WriteTextAsync("etl", "a.csv", "1", Meta(("id", "7")));

        await Store.CopyAsync("etl", "a.csv", "b.csv", null);

        Assert.Equal("7", (await Store.StatAsync("etl", "b.csv"))!.Metadata["id"]);
        Assert.NotNull(await Store.StatAsync("etl", "a.csv"));
    }

    [Theory]
    [InlineData("../outside.csv")]
    [InlineData("a/../../outside.csv")]
    [InlineData("/etc/passwd")]
    [InlineData("a/.castiron-meta/x.json")]
    [InlineData("a//b")]
    public async Task KeysThatWouldEscapeOrTouchOurFiles_AreRefused(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteTextAsync("etl", key, "x"));
        Assert.False(File.Exists(Path.Combine(_root, "outside.csv")));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("Etl")]
    [InlineData("e")]
    [InlineData("a/b")]
    public async Task BadBucketNames_AreRefused(string bucket)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StatAsync(bucket, "a.csv"));
    }

    [Fact]
    public async Task Delete_IsIdempotent()
    {
        await Store.WriteTextAsync("etl", "a.csv", "1");
        await Store.DeleteAsync("etl", "a.csv");
        await Store.DeleteAsync("etl", "a.csv");
        Assert.Null(await Store.StatAsync("etl", "a.csv"));
    }

    [Fact]
    public async Task EventSource_AnnouncesEachFileOnce_ChangesAgain_AndRemovals()
    {
        var source = new FolderObjectEventSource(_store, "etl", new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.Zero }, NullLogger<FolderObjectEventSource>.Instance);
        var seen = new List<BucketEvent>();
        Task Handler(BucketEvent e, CancellationToken _)
        {
            seen.Add(e);
            return Task.CompletedTask;
        }

        await Store.WriteTextAsync("etl", "in/a.csv", "1", Meta(("id", "1")));
        await source.ScanAsync(Handler, CancellationToken.None);
        await source.ScanAsync(Handler, CancellationToken.None);
        File.SetLastWriteTimeUtc(Path.Combine(_root, "etl", "in", "a.csv"), DateTime.UtcNow.AddSeconds(-30));
        await source.ScanAsync(Handler, CancellationToken.None);
        await Store.DeleteAsync("etl", "in/a.csv");
        await source.ScanAsync(Handler, CancellationToken.None);

        Assert.Equal(
            [(BucketEventKind.Created, "in/a.csv"), (BucketEventKind.Created, "in/a.csv"), (BucketEventKind.Removed, "in/a.csv")],
            seen.Select(e => (e.Kind, e.Key)));
        Assert.Equal("1", seen[0].UserMetadata["id"]);
        Assert.Equal("etl/in/a.csv", seen[0].ObjectId);
    }

    [Fact]
    public async Task EventSource_WaitsForAFileToSettle_AndOffersAFailedEventAgain()
    {
        var source = new FolderObjectEventSource(_store, "etl", new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.FromHours(1) }, NullLogger<FolderObjectEventSource>.Instance);
        var calls = 0;
        await Store.WriteTextAsync("etl", "in/a.csv", "1");

        var retryIn = await source.ScanAsync((_, _) => { calls++; return Task.CompletedTask; }, CancellationToken.None);
        Assert.Equal(0, calls);
        Assert.NotNull(retryIn);

        var settled = new FolderObjectEventSource(_store, "etl", new LocalFolderOptions { RootPath = _root, SettleTime = TimeSpan.Zero }, NullLogger<FolderObjectEventSource>.Instance);
        await settled.ScanAsync((_, _) => throw new InvalidOperationException("grain unavailable"), CancellationToken.None);
        await settled.ScanAsync((_, _) => { calls++; return Task.CompletedTask; }, CancellationToken.None);
        Assert.Equal(1, calls);
    }
}
