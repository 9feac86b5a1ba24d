using Orleans.CastIron.Status.ClickHouse;
using Orleans.CastIron.Status.ClickHouse.Providers;

namespace Orleans.CastIron.Status.ClickHouse.Tests;

/// <summary>The row mapping and the journal: our logic, no server.</summary>
public class StatusRowsTests
{
    internal static FileStatusRecord Record(string id, FileStatus status, DateTimeOffset at, ImmutableDictionary<string, string>? metadata = null) => new()
    {
        Id = id,
        BucketName = "etl",
        FileName = $"03_archive/{id}-test.csv",
        Status = status,
        OriginalFilename = "test.csv",
        JobKey = $"01_inbox/{id}-test.csv",
        JobId = "job-1",
        ConfigKey = "example_config.toml",
        Attempts = 1,
        Reason = status == FileStatus.Failed ? "exit code 3" : null,
        Size = 5628,
        ContentType = "text/csv",
        Metadata = metadata ?? ImmutableDictionary<string, string>.Empty,
        CreatedAt = at.AddSeconds(-1),
        UpdatedAt = at,
        Transitions = [new StatusTransition(FileStatus.Queued, at.AddSeconds(-1)), new StatusTransition(status, at)],
    };

    [Fact]
    public void EveryColumnGetsAValue_InTheSeedsOrder_ThenOurs()
    {
        var at = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
        var row = StatusRows.ToRow(Record("a", FileStatus.Failed, at, ImmutableDictionary<string, string>.Empty.Add("mission_id", "m-7").Add("owner_dn", "cn=me")));

        Assert.Equal(StatusRows.Columns.Length, row.Length);
        var byName = StatusRows.Columns.Zip(row).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal("a", byName["id"]);
        Assert.Equal("Failed", byName["status"]);
        Assert.Equal("m-7", byName["mission_id"]);
        Assert.Equal("cn=me", byName["user_dn"]);
        Assert.Equal(StatusRows.DefaultClassification, byName["classification"]);
        Assert.Equal("exit code 3", byName["error"]);
        Assert.Equal((uint)1, byName["attempt"]);
        Assert.Equal("example_config.toml", byName["processor"]);
        Assert.Equal(at.UtcDateTime, byName["transition_dt"]);
        Assert.Equal((ulong)at.UtcTicks, byName["version"]);
        Assert.Equal(Record("a", FileStatus.Failed, at, ImmutableDictionary<string, string>.Empty.Add("mission_id", "m-7").Add("owner_dn", "cn=me")) with { }, StatusRows.FromRecordJson((string)byName["record"]!), new RecordComparer());
    }

    [Fact]
    public void TheClassificationFamily_IsReadFromTheClassificationJson_AsTheSeedDid()
    {
        var json = """{"classification":"SECRET","owner_producer":"USA","sci_controls":["SI","TK"],"dissemination_controls":["NOFORN"],"releasable_to":["USA","GBR"],"fgi_source_open":"GBR","non_ic_markings":"LES"}""";
        var marking = SecurityMarking.Parse(json);

        Assert.Equal("SECRET", marking.Classification);
        Assert.Equal("USA", marking.OwnerProducer);
        Assert.Equal(["SI", "TK"], marking.SciControls);
        Assert.Equal(["NOFORN"], marking.DisseminationControls);
        Assert.Equal(["USA", "GBR"], marking.ReleasableTo);
        Assert.Equal("GBR", marking.FgiSourceOpen);
        Assert.Equal(["LES"], marking.NonIcMarkings);
        Assert.Empty(marking.SarIdentifier);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"classification": 3}""")]
    public void UnreadableClassification_LeavesTheDefaults(string? json)
    {
        var marking = SecurityMarking.Parse(json);
        Assert.Null(marking.Classification);
        Assert.Empty(marking.SciControls);
    }

    [Fact]
    public void LaterTransitionsHaveLaterVersions()
    {
        var at = DateTimeOffset.UtcNow;
        Assert.True(StatusRows.Version(Record("a", FileStatus.Complete, at.AddMilliseconds(1))) > StatusRows.Version(Record("a", FileStatus.Processing, at)));
    }

    [Fact]
    public void Journal_KeepsRowsAcrossRestarts_SendsOldestFirst_AndSkipsATornLine()
    {
        var folder = Path.Combine(Path.GetTempPath(), "castiron-journal", Guid.NewGuid().ToString("N"));
        var first = new StatusJournal(folder);
        first.Append("""{"n":1}""");
        first.Append("""{"n":2}""");
        Assert.Single(first.Seal());
        first.Append("""{"n":3}""");
        first.Close();
        // A crash mid-append leaves half a line.
        File.AppendAllText(Directory.GetFiles(folder).Order(StringComparer.Ordinal).Last(), """{"n":4""");

        var second = new StatusJournal(folder);
        Assert.True(second.HasPending);
        var segments = second.Seal();
        Assert.Equal(2, segments.Count);
        Assert.Equal(["""{"n":1}""", """{"n":2}""", """{"n":3}"""], segments.SelectMany(StatusJournal.Read));
        foreach (var segment in segments)
        {
            StatusJournal.Acknowledge(segment);
        }

        Assert.False(second.HasPending);
        Assert.Empty(second.Seal());
        Directory.Delete(folder, recursive: true);
    }

    private sealed class RecordComparer : IEqualityComparer<FileStatusRecord>
    {
        public bool Equals(FileStatusRecord? x, FileStatusRecord? y) =>
            x is not null && y is not null && x.Id == y.Id && x.Status == y.Status && x.FileName == y.FileName && x.UpdatedAt == y.UpdatedAt
            && x.Metadata.OrderBy(p => p.Key).SequenceEqual(y.Metadata.OrderBy(p => p.Key)) && x.Transitions.SequenceEqual(y.Transitions) && x.Reason == y.Reason;

        public int GetHashCode(FileStatusRecord obj) => obj.Id.GetHashCode(StringComparison.Ordinal);
    }
}

/// <summary>Registration: the container holds the store under several names and disposes each.</summary>
public class RegistrationTests
{
    [Fact]
    public async Task TheStoreRegisteredUnderSeveralNames_IsStoppedAndDisposedOnce_WithoutErrors()
    {
        var journal = Path.Combine(Path.GetTempPath(), "castiron-ch-journal", Guid.NewGuid().ToString("N"));
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        Microsoft.Extensions.DependencyInjection.LoggingServiceCollectionExtensions.AddLogging(services);
        Orleans.Hosting.ClickHouseServiceCollectionExtensions.AddCastIronClickHouse(services, o =>
        {
            o.Host = "127.0.0.1";
            o.Port = 1;
            o.JournalPath = journal;
        });
        var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var store = (ClickHouseFileStatusStore)Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Orleans.CastIron.Storage.IFileStatusStore>(provider);
        Assert.Same(store, Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ClickHouseFileStatusStore>(provider));
        await store.StartAsync();
        await store.UpsertAsync(StatusRowsTests.Record("a", FileStatus.Queued, DateTimeOffset.UtcNow));
        await store.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token);

        await provider.DisposeAsync();

        // Nowhere to send it (port 1): the row waits in the journal for the next start.
        Assert.True(new StatusJournal(journal).HasPending);
        Directory.Delete(journal, recursive: true);
    }
}
