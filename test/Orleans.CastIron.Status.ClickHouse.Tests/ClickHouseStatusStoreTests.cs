using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using Orleans.CastIron.Status.ClickHouse.Providers;

namespace Orleans.CastIron.Status.ClickHouse.Tests;

/// <summary>The status store against a real ClickHouse engine (chDB behind ClickHouse's HTTP interface, or <c>CLICKHOUSE_URL</c>).</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class ClickHouseStatusStoreTests(Orleans.CastIron.ClickHousePeer.ClickHousePeer server) : IAsyncLifetime
{
    private readonly string _journal = Path.Combine(Path.GetTempPath(), "castiron-ch-journal", Guid.NewGuid().ToString("N"));
    private readonly ClickHouseStatusOptions _options = new()
    {
        Host = server.Url.Host,
        Port = server.Url.Port,
        User = server.Username,
        Password = server.Password,
        Database = Orleans.CastIron.ClickHousePeer.ClickHousePeer.NewDatabase("status"),
        FlushInterval = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(300),
    };

    private ClickHouseFileStatusStore _store = null!;

    private Orleans.CastIron.ClickHousePeer.ClickHousePeer Server => server;

    public async Task InitializeAsync()
    {
        _options.JournalPath = _journal;
        _store = new ClickHouseFileStatusStore(_options);
        await _store.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        if (Directory.Exists(_journal))
        {
            Directory.Delete(_journal, recursive: true);
        }
    }

    [Fact]
    public async Task TheSeedsTable_IsCreatedOnce_WithEveryColumn_AndCreatingItAgainIsHarmless()
    {
        await _store.UpsertAsync(StatusRowsTests.Record("a", FileStatus.Queued, DateTimeOffset.UtcNow));
        await DrainedAsync(_store);
        await using (var again = new ClickHouseFileStatusStore(_options))
        {
            await again.StartAsync();
            Assert.Empty(await again.QueryAsync(FileStatus.Failed, 10));
        }

        var columns = await ScalarAsync<ulong>("SELECT count() FROM system.columns WHERE database = {db:String} AND table = 'cast_iron_file_status'", ("db", _options.Database));
        Assert.Equal((ulong)StatusRows.Columns.Length, columns);
    }

    [Fact]
    public async Task EveryTransitionOfAFilesLife_IsARow_AndTheLatestIsWhatReadsSee()
    {
        var start = DateTimeOffset.UtcNow;
        var queued = StatusRowsTests.Record("life", FileStatus.Queued, start);
        // Each transition lands and is what reads see (ReplacingMergeTree later folds a file's rows into its latest).
        foreach (var (status, second) in new[] { (FileStatus.Queued, 0), (FileStatus.Processing, 1), (FileStatus.Complete, 2) })
        {
            await _store.UpsertAsync(queued with { Status = status, UpdatedAt = start.AddSeconds(second) });
            await DrainedAsync(_store);
            Assert.Equal(status, (await _store.GetAsync("life"))!.Status);
            Assert.Equal(status.ToString(), await ScalarAsync<string>($"SELECT argMax(status, version) FROM {_options.QualifiedTable} WHERE id = {{id:String}}", ("id", "life")));
        }

        Assert.InRange(await ScalarAsync<ulong>($"SELECT count() FROM {_options.QualifiedTable} WHERE id = {{id:String}}", ("id", "life")), 1UL, 3UL);
        var latest = await _store.GetAsync("life");
        Assert.Equal(FileStatus.Complete, latest!.Status);
        Assert.Equal("life", Assert.Single(await _store.QueryAsync(FileStatus.Complete, 10)).Id);
        Assert.Empty(await _store.QueryAsync(FileStatus.Processing, 10));
        Assert.Equal(1, (await _store.CountAsync())[FileStatus.Complete]);
        Assert.Null(await _store.GetAsync("no-such-file"));
    }

    [Fact]
    public async Task ManyFilesWithManyTransitions_WrittenOutOfOrder_ReadAsTheirLatestState_AndPage()
    {
        var start = DateTimeOffset.UtcNow;
        var writes = new List<FileStatusRecord>();
        for (var i = 0; i < 300; i++)
        {
            var record = StatusRowsTests.Record($"f{i:D3}", FileStatus.Queued, start.AddMilliseconds(i));
            writes.Add(record);
            writes.Add(record with { Status = FileStatus.Processing, UpdatedAt = record.UpdatedAt.AddSeconds(1) });
            writes.Add(record with { Status = i % 3 == 0 ? FileStatus.Failed : FileStatus.Complete, UpdatedAt = record.UpdatedAt.AddSeconds(2) });
        }

        // Later transitions may reach ClickHouse first (another silo, a retried batch): the version decides.
        foreach (var record in writes.OrderBy(_ => Random.Shared.Next()))
        {
            await _store.UpsertAsync(record);
        }

        await DrainedAsync(_store);
        var counts = await _store.CountAsync();
        Assert.Equal(100, counts[FileStatus.Failed]);
        Assert.Equal(200, counts[FileStatus.Complete]);
        Assert.False(counts.ContainsKey(FileStatus.Queued));
        var page1 = await _store.QueryAsync(FileStatus.Complete, 150);
        var page2 = await _store.QueryAsync(FileStatus.Complete, 150, offset: 150);
        Assert.Equal(200, page1.Concat(page2).Select(r => r.Id).Distinct().Count());
        Assert.Equal("f299", page1[0].Id);
    }

    [Fact]
    public async Task HostileStrings_AreStoredVerbatim_BecauseNoValueIsEverSqlText()
    {
        string[] hostile = ["'; DROP TABLE cast_iron_file_status; --", "back\\slash\\'quote", "\"double\"", "line\nbreak\r\n", "ünïcødé 日本語 🙂", "{id:String}", "\t\0nul"];
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < hostile.Length; i++)
        {
            await _store.UpsertAsync(StatusRowsTests.Record($"h{i}", FileStatus.Failed, at, ImmutableDictionary<string, string>.Empty.Add("mission_id", hostile[i])) with { OriginalFilename = hostile[i], Reason = hostile[i] });
        }

        await DrainedAsync(_store);
        for (var i = 0; i < hostile.Length; i++)
        {
            var read = await _store.GetAsync($"h{i}");
            Assert.Equal(hostile[i], read!.OriginalFilename);
            Assert.Equal(hostile[i], read.Reason);
            Assert.Equal(hostile[i], await ScalarAsync<string>($"SELECT original_filename FROM {_options.QualifiedTable} FINAL WHERE id = {{id:String}}", ("id", $"h{i}")));
            Assert.Equal(hostile[i], await ScalarAsync<string>($"SELECT mission_id FROM {_options.QualifiedTable} FINAL WHERE id = {{id:String}}", ("id", $"h{i}")));
        }

        Assert.Equal((ulong)hostile.Length, await ScalarAsync<ulong>($"SELECT count() FROM {_options.QualifiedTable}"));
    }

    [Fact]
    public async Task ClickHouseStoppedMidRun_LosesNoRow_AndAFileIsNeverHeldUp()
    {
        if (!Server.IsEmbedded)
        {
            return; // An external server cannot be stopped by the tests.
        }

        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < 100; i++)
        {
            await _store.UpsertAsync(StatusRowsTests.Record($"before{i}", FileStatus.Complete, at));
        }

        await DrainedAsync(_store);
        await Server.StopAsync();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 500; i++)
            {
                await _store.UpsertAsync(StatusRowsTests.Record($"during{i}", FileStatus.Queued, at));
                await _store.UpsertAsync(StatusRowsTests.Record($"during{i}", FileStatus.Complete, at.AddSeconds(1)));
            }

            // Writes do not wait for ClickHouse (a generous bound: 1,000 journal appends).
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"1,000 status writes took {clock.Elapsed} with ClickHouse down");
            await Task.Delay(500);
            Assert.True(_store.HasPending);
            await Assert.ThrowsAnyAsync<Exception>(() => _store.GetAsync("before1"));
        }
        finally
        {
            await Server.StartAsync();
        }

        await DrainedAsync(_store);
        Assert.Equal(600, (await _store.CountAsync())[FileStatus.Complete]);
    }

    [Fact]
    public async Task ASiloStoppedWhileClickHouseWasDown_SendsItsJournalAtTheNextStart()
    {
        if (!Server.IsEmbedded)
        {
            return; // An external server cannot be stopped by the tests.
        }

        var journal = Path.Combine(_journal, "restart");
        var options = WithJournal(journal);
        await Server.StopAsync();
        try
        {
            var first = new ClickHouseFileStatusStore(options);
            await first.StartAsync();
            for (var i = 0; i < 50; i++)
            {
                await first.UpsertAsync(StatusRowsTests.Record($"kept{i}", FileStatus.Complete, DateTimeOffset.UtcNow));
            }

            await first.DisposeAsync();
        }
        finally
        {
            await Server.StartAsync();
        }

        await using var second = new ClickHouseFileStatusStore(options);
        await second.StartAsync();
        await DrainedAsync(second);
        Assert.Equal(50UL, await ScalarAsync<ulong>($"SELECT count() FROM {_options.QualifiedTable} FINAL WHERE startsWith(id, 'kept')"));
    }

    [Fact]
    public async Task TheSeedsOwnTable_GetsOurColumnsAdded_AndItsRowsStay()
    {
        // The seed's table as a deployment has it: its 25 columns only, with a row of its own.
        using (var client = new ClickHouseClient(_options.Settings()))
        {
            await client.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {_options.Database}", new ClickHouseParameterCollection(), null, CancellationToken.None);
            await client.ExecuteNonQueryAsync($"""
                CREATE TABLE {_options.QualifiedTable} (
                    id String, bucket_name String, file_name String, status Nullable(String), original_filename String,
                    mission_id Nullable(String), event_name Nullable(String), source_ip Nullable(String), size Nullable(Int64),
                    etag Nullable(String), content_type Nullable(String), created_dt DateTime, updated_dt Nullable(DateTime),
                    metadata Nullable(String), user_dn Nullable(String), classification String DEFAULT 'UNCLASSIFIED',
                    owner_producer Nullable(String), sci_controls Array(String), sar_identifier Array(String),
                    atomic_energy_control Nullable(String), dissemination_controls Array(String), fgi_source_open Nullable(String),
                    fgi_source_protected Nullable(String), releasable_to Array(String), non_ic_markings Array(String)
                ) ENGINE = ReplacingMergeTree ORDER BY id
                """, new ClickHouseParameterCollection(), null, CancellationToken.None);
            await client.ExecuteNonQueryAsync($"INSERT INTO {_options.QualifiedTable} (id, bucket_name, file_name, status, original_filename, created_dt) VALUES ('seed-row', 'etl', '03_archive/x.csv', 'Complete', 'x.csv', now())", new ClickHouseParameterCollection(), null, CancellationToken.None);
        }

        await _store.UpsertAsync(StatusRowsTests.Record("ours", FileStatus.Complete, DateTimeOffset.UtcNow));
        await DrainedAsync(_store);

        Assert.Equal(FileStatus.Complete, (await _store.GetAsync("ours"))!.Status);
        var seedRow = await _store.GetAsync("seed-row");
        Assert.Equal(("x.csv", FileStatus.Complete), (seedRow!.OriginalFilename, seedRow.Status));
        Assert.Equal(2, (await _store.QueryAsync(FileStatus.Complete, 10)).Count);
        Assert.Equal("x.csv", await ScalarAsync<string>($"SELECT original_filename FROM {_options.QualifiedTable} WHERE id = {{id:String}}", ("id", "seed-row")));
        Assert.Equal((ulong)StatusRows.Columns.Length, await ScalarAsync<ulong>("SELECT count() FROM system.columns WHERE database = {db:String} AND table = 'cast_iron_file_status'", ("db", _options.Database)));
    }

    [Fact]
    public async Task ARowWhoseFileNamesNoClassification_GetsTheConfiguredDefault_AsTheSeedsRowsDid()
    {
        var options = new ClickHouseStatusOptions
        {
            Host = _options.Host,
            Port = _options.Port,
            User = _options.User,
            Password = _options.Password,
            Database = _options.Database,
            FlushInterval = _options.FlushInterval,
            RetryMaxDelay = _options.RetryMaxDelay,
            JournalPath = _journal + "-cui",
            DefaultClassification = "CUI",
        };
        try
        {
            await using var store = new ClickHouseFileStatusStore(options);
            await store.StartAsync();
            var at = DateTimeOffset.UtcNow;
            await store.UpsertAsync(StatusRowsTests.Record("plain", FileStatus.Complete, at));
            await store.UpsertAsync(StatusRowsTests.Record("marked", FileStatus.Complete, at, ImmutableDictionary<string, string>.Empty.Add("classification", """{"classification":"SECRET"}""")));
            await DrainedAsync(store);

            Assert.Equal("CUI", await ScalarAsync<string>($"SELECT classification FROM {options.QualifiedTable} FINAL WHERE id = {{id:String}}", ("id", "plain")));
            Assert.Equal("SECRET", await ScalarAsync<string>($"SELECT classification FROM {options.QualifiedTable} FINAL WHERE id = {{id:String}}", ("id", "marked")));
        }
        finally
        {
            if (Directory.Exists(options.JournalPath))
            {
                Directory.Delete(options.JournalPath, recursive: true);
            }
        }
    }

    [Fact]
    public async Task ADamagedJournalLine_IsSkipped_AndDoesNotHoldBackTheRowsAroundIt()
    {
        var journal = Path.Combine(_journal, "damaged");
        Directory.CreateDirectory(journal);
        var at = DateTimeOffset.UtcNow;
        // A segment left by an earlier run, with a line that is JSON but not a record, and one that is not JSON.
        await File.WriteAllLinesAsync(Path.Combine(journal, "status-000000000001.jsonl"),
        [
            StatusRows.ToJournalLine(StatusRowsTests.Record("around1", FileStatus.Complete, at)),
            """{"Status":"NoSuchStatus"}""",
            "garbage}",
            StatusRows.ToJournalLine(StatusRowsTests.Record("around2", FileStatus.Complete, at)),
        ]);
        var options = WithJournal(journal);
        await using var store = new ClickHouseFileStatusStore(options);
        await store.StartAsync();
        await DrainedAsync(store);

        Assert.NotNull(await store.GetAsync("around1"));
        Assert.NotNull(await store.GetAsync("around2"));
    }

    /// <summary>This test's settings for a second store with its own journal.</summary>
    private ClickHouseStatusOptions WithJournal(string journal) => new()
    {
        Host = _options.Host,
        Port = _options.Port,
        User = _options.User,
        Password = _options.Password,
        Database = _options.Database,
        FlushInterval = _options.FlushInterval,
        RetryMaxDelay = _options.RetryMaxDelay,
        JournalPath = journal,
    };

    private static async Task DrainedAsync(ClickHouseFileStatusStore store)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (store.HasPending)
        {
            Assert.True(DateTime.UtcNow < deadline, "status rows still waiting after 60 s");
            await Task.Delay(20);
        }
    }

    private async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        using var client = new ClickHouseClient(_options.Settings());
        var collection = new ClickHouseParameterCollection();
        foreach (var (name, value) in parameters)
        {
            collection.Add(new ClickHouseDbParameter { ParameterName = name, Value = value });
        }

        return (T)Convert.ChangeType((await client.ExecuteScalarAsync(sql, collection, null, CancellationToken.None))!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }
}
