using Orleans.CastIron.Files;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Xunit;

namespace Orleans.CastIron.Storage.LocalFolder.Tests;

public sealed class FolderFileStatusStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "castiron-status-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static FileStatusRecord Record(string id, FileStatus status, int minute) => new()
    {
        Id = id,
        BucketName = "etl",
        FileName = $"01_inbox/{id}-a.csv",
        Status = status,
        OriginalFilename = "a.csv",
        JobKey = $"etl/01_inbox/{id}-a.csv",
        UpdatedAt = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero),
        Transitions = [new StatusTransition(status, new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero))],
    };

    [Fact]
    public async Task Records_SurviveARestart_AndQueryByStatusNewestFirst()
    {
        var store = new FolderFileStatusStore(_folder);
        await store.UpsertAsync(Record("a1", FileStatus.Queued, 1));
        await store.UpsertAsync(Record("b2", FileStatus.Complete, 2));
        await store.UpsertAsync(Record("c3", FileStatus.Complete, 3));
        await store.UpsertAsync(Record("a1", FileStatus.Processing, 4));

        var reopened = new FolderFileStatusStore(_folder);

        Assert.Equal(FileStatus.Processing, (await reopened.GetAsync("a1"))!.Status);
        Assert.Equal(["c3", "b2"], (await reopened.QueryAsync(FileStatus.Complete, 10)).Select(r => r.Id));
        Assert.Equal(["a1", "c3"], (await reopened.QueryAsync(null, 2)).Select(r => r.Id));
        Assert.Null(await reopened.GetAsync("zz"));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("")]
    [InlineData("a/b")]
    public async Task IdsThatAreNotUuidLike_AreRefused(string id)
    {
        var store = new FolderFileStatusStore(_folder);
        await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync(Record(id, FileStatus.Queued, 1)));
    }
}
