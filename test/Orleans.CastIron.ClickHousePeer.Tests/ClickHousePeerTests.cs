using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Compression;
using ClickHouse.Driver.Constraints;
using ClickHouse.Driver.Copy;
using ClickHouse.Driver.Utility;

namespace Orleans.CastIron.ClickHousePeer.Tests;

/// <summary>
/// ClickHouse.Driver 1.5.0 against the peer over real HTTP: what product code will do to ClickHouse (DDL,
/// parameterised statements, binary bulk inserts, ReplacingMergeTree reads, errors, an outage and recovery).
/// </summary>
[Collection(ClickHouseCollection.Name)]
public sealed class ClickHousePeerTests(ClickHousePeer peer) : IAsyncLifetime
{
    private readonly string _database = ClickHousePeer.NewDatabase("peer");
    private readonly ConcurrentQueue<BridgeRequest> _requests = new();
    private ClickHouseClient _client = null!;

    public async Task InitializeAsync()
    {
        using var admin = new ClickHouseClient(peer.ConnectionString);
        await admin.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {_database}");
        _client = new ClickHouseClient(peer.ConnectionStringFor(_database));
        if (peer.Bridge is { } bridge)
        {
            bridge.RequestHandled += _requests.Enqueue;
        }
    }

    public async Task DisposeAsync()
    {
        if (peer.Bridge is { } bridge)
        {
            bridge.RequestHandled -= _requests.Enqueue;
            await bridge.StartAsync();
        }

        await _client.ExecuteNonQueryAsync($"DROP DATABASE IF EXISTS {_database}");
        _client.Dispose();
    }

    [Fact]
    public async Task Ping_and_version_answer_over_http()
    {
        Assert.True(await _client.PingAsync());

        using var http = new HttpClient();
        Assert.Equal("Ok.\n", await http.GetStringAsync(new Uri(peer.Url, "ping")));

        var version = (string)(await _client.ExecuteScalarAsync("SELECT version()"))!;
        if (peer.IsEmbedded)
        {
            Assert.StartsWith("26.", version, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_null_dereference_is_still_a_dotnet_exception_with_chdb_loaded()
    {
        // chDB would install its own SIGSEGV handler; the peer turns that off (left on, this test hangs the test host).
        string? nothing = null;
        Assert.Throws<NullReferenceException>(() => nothing!.Length);
    }

    [Fact]
    public async Task Create_database_and_table_if_not_exists_is_idempotent()
    {
        for (var i = 0; i < 2; i++)
        {
            await _client.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {_database}");
            await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        }

        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("db", _database);
        var engine = await _client.ExecuteScalarAsync("SELECT engine FROM system.tables WHERE database = {db:String} AND name = 'jobs'", parameters);
        Assert.Equal("ReplacingMergeTree", engine);
    }

    [Fact]
    public async Task Typed_parameters_insert_and_select_round_trip()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        var updated = new DateTime(2026, 3, 4, 5, 6, 7, 891, DateTimeKind.Utc);
        var tags = new Dictionary<string, string> { ["stage"] = "done", ["it's"] = "a\\b" };
        await InsertAsync("job-1", updated, 7, null, tags);
        await InsertAsync("job-2", updated.AddDays(1), ulong.MaxValue, "second", []);

        var select = new ClickHouseParameterCollection();
        select.AddParameter("id", "job-1");
        using (var reader = await _client.ExecuteReaderAsync("SELECT id, updated, version, note, tags FROM jobs WHERE id = {id:String}", select))
        {
            Assert.True(reader.Read());
            Assert.Equal("job-1", reader.GetString(0));
            Assert.Equal(updated, reader.GetDateTime(1).ToUniversalTime());
            Assert.Equal(7UL, reader.GetFieldValue<ulong>(2));
            Assert.True(reader.IsDBNull(3));
            Assert.Equal(tags, ToDictionary(reader.GetValue(4)));
            Assert.False(reader.Read());
        }

        var byVersion = new ClickHouseParameterCollection();
        byVersion.AddParameter("v", ulong.MaxValue);
        byVersion.AddParameter("after", updated);
        Assert.Equal("second", await _client.ExecuteScalarAsync("SELECT note FROM jobs WHERE version = {v:UInt64} AND updated > {after:DateTime64(3, 'UTC')}", byVersion));
    }

    [Fact]
    public async Task Binary_bulk_insert_of_10000_rows()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 10_000)
            .Select(i => new object[] { $"job-{i:D5}", start.AddSeconds(i), (ulong)i, i % 3 == 0 ? DBNull.Value : $"note {i}", new Dictionary<string, string> { ["i"] = $"{i}" } });

        var written = await _client.InsertBinaryAsync("jobs", ["id", "updated", "version", "note", "tags"], rows);

        Assert.Equal(10_000, written);
        using var reader = await _client.ExecuteReaderAsync("SELECT count(), sum(version), countIf(note IS NULL), max(updated), anyIf(tags['i'], id = 'job-09999') FROM jobs");
        Assert.True(reader.Read());
        Assert.Equal(10_000UL, reader.GetFieldValue<ulong>(0));
        Assert.Equal(49_995_000UL, reader.GetFieldValue<ulong>(1));
        Assert.Equal(3_334UL, reader.GetFieldValue<ulong>(2));
        Assert.Equal(start.AddSeconds(9_999), reader.GetDateTime(3).ToUniversalTime());
        Assert.Equal("9999", reader.GetString(4));
        if (peer.IsEmbedded)
        {
            // What the driver sent: one zstd body holding "INSERT ... FORMAT RowBinary", a newline and the rows.
            Assert.Contains(_requests, r => r.Statement.EndsWith("FORMAT RowBinary", StringComparison.Ordinal) && r.ContentEncoding == "zstd" && r.SqlBytes > 400_000 && r.Status == 200);
        }
    }

    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task Binary_insert_with_each_compressor_and_row_format(string codec)
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        IClickHouseCompressor? compressor = codec switch
        {
            "gzip" => GZipCompressor.Default,
            "lz4" => Lz4Compressor.Default,
            "zstd" => ZstdCompressor.Default,
            _ => null,
        };
        var rows = Enumerable.Range(0, 500).Select(i => new object[] { $"k{i}", DateTime.UtcNow, (ulong)i });
        foreach (var format in new[] { RowBinaryFormat.RowBinary, RowBinaryFormat.RowBinaryWithDefaults })
        {
            await _client.InsertBinaryAsync("jobs", ["id", "updated", "version"], rows, new InsertOptions { Compressor = compressor, Format = format });
        }

        Assert.Equal(1_000UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
        Assert.Equal(0UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs WHERE note IS NOT NULL OR length(tags) > 0"));
    }

    [Fact]
    public async Task LowCardinality_arrays_nullable_numbers_and_column_defaults_round_trip()
    {
        await _client.ExecuteNonQueryAsync("""
            CREATE TABLE IF NOT EXISTS files
            (
                id String,
                status LowCardinality(String),
                size Nullable(Int64),
                controls Array(String),
                classification String DEFAULT 'UNCLASSIFIED'
            )
            ENGINE = ReplacingMergeTree ORDER BY id
            """);

        // RowBinaryWithDefaults lets a row ask for the column's DEFAULT.
        await _client.InsertBinaryAsync(
            "files",
            ["id", "status", "size", "controls", "classification"],
            [["a", "Done", 42L, new[] { "x", "it's" }, DBDefault.Value], ["b", "Failed", null, Array.Empty<string>(), "SECRET"]],
            new InsertOptions { Format = RowBinaryFormat.RowBinaryWithDefaults });
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("controls", new[] { "p\\q", "r'" });
        await _client.ExecuteNonQueryAsync("INSERT INTO files (id, status, controls) VALUES ('c', 'Queued', {controls:Array(String)})", parameters);

        using var reader = await _client.ExecuteReaderAsync("SELECT id, status, size, controls, classification FROM files ORDER BY id");
        var rows = new List<(string, string, long?, string[], string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2), (string[])reader.GetValue(3), reader.GetString(4)));
        }

        Assert.Equal(3, rows.Count);
        Assert.Equal(("a", "Done", 42L), (rows[0].Item1, rows[0].Item2, rows[0].Item3));
        Assert.Equal(["x", "it's"], rows[0].Item4);
        Assert.Equal("UNCLASSIFIED", rows[0].Item5);
        Assert.Equal(("b", "Failed", (long?)null, "SECRET"), (rows[1].Item1, rows[1].Item2, rows[1].Item3, rows[1].Item5));
        Assert.Empty(rows[1].Item4);
        Assert.Equal(["p\\q", "r'"], rows[2].Item4);
        Assert.Equal("UNCLASSIFIED", rows[2].Item5);
    }

    [Fact]
    public async Task Raw_stream_insert_with_the_query_in_the_url_and_a_gzip_body()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        var csv = string.Join("\n", Enumerable.Range(0, 1_000).Select(i => $"raw-{i},2026-01-01 00:00:00.000,{i}")) + "\n";
        using var body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(csv));

        using var response = await _client.InsertRawStreamAsync("jobs", body, "CSV", ["id", "updated", "version"], useCompression: true);

        Assert.True(response.IsSuccessStatusCode);
        Assert.Equal(499_500UL, await _client.ExecuteScalarAsync("SELECT sum(version) FROM jobs WHERE startsWith(id, 'raw-')"));

        using var http = new HttpClient();
        Assert.Equal("1000\n", await http.GetStringAsync(new Uri(peer.Url, $"?database={_database}&query=" + Uri.EscapeDataString("SELECT count() FROM jobs"))));
    }

    [Fact]
    public async Task Final_and_argMax_read_the_latest_version_of_a_key()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        var t0 = new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc);

        // Separate inserts make separate parts, so the newest version wins only at merge time, FINAL or argMax.
        foreach (var (version, note) in new[] { (2UL, "two"), (3UL, "three"), (1UL, "one") })
        {
            await InsertAsync("same-key", t0.AddMinutes(version), version, note, []);
        }

        await InsertAsync("other", t0, 1, "other", []);

        Assert.Equal(4UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
        Assert.Equal(2UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs FINAL"));
        var key = new ClickHouseParameterCollection();
        key.AddParameter("id", "same-key");
        Assert.Equal("three", await _client.ExecuteScalarAsync("SELECT note FROM jobs FINAL WHERE id = {id:String}", key));
        Assert.Equal("three", await _client.ExecuteScalarAsync("SELECT argMax(note, version) FROM jobs WHERE id = {id:String}", key));
    }

    public static TheoryData<string> HostileStrings() =>
    [
        "'",
        "\\",
        "'; DROP TABLE x; --",
        "\\'; DROP TABLE jobs; --",
        "line1\nline2\r\nline3\r",
        "blank\n\nline\n\n",
        "tab\tseparated\tvalue",
        "nul\0byte",
        "emoji 😀🎉 and ünïcödé, 中文, עברית",
        "\\N",
        "NULL",
        "{id:String}",
        "\"double\" `back` $dollar$ %s %d",
        "\\x41\\0\\n (escapes as text)",
        "",
        " leading and trailing spaces ",
        new string('x', 70_000),
    ];

    [Theory]
    [MemberData(nameof(HostileStrings))]
    public async Task Hostile_strings_are_stored_and_read_back_verbatim(string hostile)
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));

        // Once as parameters (id and note), once through the binary insert.
        await InsertAsync(hostile, DateTime.UtcNow, 1, hostile, new Dictionary<string, string> { [hostile] = hostile });
        await _client.InsertBinaryAsync("jobs", ["id", "updated", "version", "note"], [[hostile + "#binary", DateTime.UtcNow, 2UL, hostile]]);

        foreach (var id in new[] { hostile, hostile + "#binary" })
        {
            var parameters = new ClickHouseParameterCollection();
            parameters.AddParameter("id", id);
            using var reader = await _client.ExecuteReaderAsync("SELECT id, note, tags FROM jobs WHERE id = {id:String}", parameters);
            Assert.True(reader.Read());
            Assert.Equal(id, reader.GetString(0));
            Assert.Equal(hostile, reader.GetString(1));
            if (id == hostile)
            {
                Assert.Equal(new Dictionary<string, string> { [hostile] = hostile }, ToDictionary(reader.GetValue(2)));
            }

            Assert.False(reader.Read());
        }

        Assert.Equal(2UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
    }

    [Fact]
    public async Task Sql_errors_surface_as_ClickHouseServerException_with_the_server_code()
    {
        var missing = await Assert.ThrowsAsync<ClickHouseServerException>(() => _client.ExecuteScalarAsync("SELECT * FROM no_such_table"));
        Assert.Equal(60, missing.ErrorCode);
        Assert.Contains("UNKNOWN_TABLE", missing.Message, StringComparison.Ordinal);

        var syntax = await Assert.ThrowsAsync<ClickHouseServerException>(() => _client.ExecuteNonQueryAsync("SELEC 1"));
        Assert.Equal(62, syntax.ErrorCode);

        var badParameter = new ClickHouseParameterCollection();
        badParameter.AddParameter("n", "not a number");
        var type = await Assert.ThrowsAnyAsync<DbException>(() => _client.ExecuteScalarAsync("SELECT {n:String}::UInt64", badParameter));
        Assert.True(type.ErrorCode > 0, type.Message);

        using var noDb = new ClickHouseClient(peer.ConnectionStringFor("no_such_database"));
        var database = await Assert.ThrowsAsync<ClickHouseServerException>(() => noDb.ExecuteScalarAsync("SELECT 1"));
        Assert.Equal(81, database.ErrorCode);

        // Over plain HTTP: ClickHouse's status for the error, its code in a header, the text in the body.
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(peer.Url, "?query=" + Uri.EscapeDataString("SELECT * FROM no_such_table")));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("60", response.Headers.GetValues("X-ClickHouse-Exception-Code").Single());
        Assert.StartsWith("Code: 60. DB::Exception:", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The session is not left broken by a failure.
        Assert.Equal((byte)1, await _client.ExecuteScalarAsync("SELECT 1"));
    }

    [Fact]
    public async Task Settings_apply_to_their_request_only()
    {
        var with = new QueryOptions { CustomSettings = new Dictionary<string, object> { ["max_threads"] = 1, ["max_result_rows"] = 1234 } };
        Assert.Equal("1234", await _client.ExecuteScalarAsync("SELECT toString(getSetting('max_result_rows'))", options: with));
        Assert.Equal("0", await _client.ExecuteScalarAsync("SELECT toString(getSetting('max_result_rows'))"));

        var unknown = new QueryOptions { CustomSettings = new Dictionary<string, object> { ["no_such_setting"] = 1 } };
        var error = await Assert.ThrowsAsync<ClickHouseServerException>(() => _client.ExecuteScalarAsync("SELECT 1", options: unknown));
        Assert.Equal(115, error.ErrorCode);
    }

    [Theory]
    [InlineData("UseFormDataParameters=true")]
    [InlineData("Compression=false")]
    [InlineData("UseSession=true")]
    public async Task Driver_transport_options_work(string option)
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        using var client = new ClickHouseClient(peer.ConnectionStringFor(_database) + ";" + option);
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("id", "it's \\ a\nkey");
        parameters.AddParameter("version", 3UL);
        await client.ExecuteNonQueryAsync("INSERT INTO jobs (id, updated, version) VALUES ({id:String}, now64(3), {version:UInt64})", parameters);
        await client.InsertBinaryAsync("jobs", ["id", "updated", "version"], [["binary", DateTime.UtcNow, 4UL]]);

        Assert.Equal(3UL, await client.ExecuteScalarAsync("SELECT version FROM jobs WHERE id = {id:String}", parameters));
        Assert.Equal(7UL, await client.ExecuteScalarAsync("SELECT sum(version) FROM jobs"));
    }

    [Fact]
    public async Task Ado_connection_and_command_work_too()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        using var connection = new ClickHouseConnection(peer.ConnectionStringFor(_database));
        await connection.OpenAsync();
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO jobs (id, updated, version) VALUES ({id:String}, {updated:DateTime64(3, 'UTC')}, {version:UInt64})";
        command.AddParameter("id", "ado");
        command.AddParameter("updated", DateTime.UtcNow);
        command.AddParameter("version", 5UL);
        await command.ExecuteNonQueryAsync();

        command.Parameters.Clear();
        command.CommandText = "SELECT version FROM jobs WHERE id = {id:String}";
        command.AddParameter("id", "ado");
        Assert.Equal(5UL, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Stop_then_start_keeps_the_data_and_new_connections_work()
    {
        if (!peer.IsEmbedded)
        {
            return; // an external server is not ours to stop
        }

        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        await InsertAsync("before-outage", DateTime.UtcNow, 1, "kept", []);

        await peer.StopAsync();
        Assert.False(await _client.PingAsync());
        var down = await Assert.ThrowsAnyAsync<Exception>(() => _client.ExecuteScalarAsync("SELECT 1"));
        Assert.True(down is HttpRequestException || down.InnerException is HttpRequestException, down.ToString());

        await peer.StartAsync();
        using var fresh = new ClickHouseClient(peer.ConnectionStringFor(_database));
        Assert.True(await fresh.PingAsync());
        Assert.Equal("kept", await fresh.ExecuteScalarAsync("SELECT note FROM jobs WHERE id = 'before-outage'"));

        // The client that saw the outage recovers as well.
        await InsertAsync("after-outage", DateTime.UtcNow, 2, "new", []);
        Assert.Equal(2UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
    }

    [Fact]
    public async Task A_second_peer_in_the_process_shares_the_engine()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        await InsertAsync("seen-by-both", DateTime.UtcNow, 1, null, []);

        await using (var second = new ClickHousePeer())
        {
            if (peer.IsEmbedded)
            {
                // chDB takes one data directory per process: its own session and port, the same data.
                Assert.NotEqual(peer.Url, second.Url);
                Assert.Equal(peer.DataDirectory, second.DataDirectory);
            }

            using var client = new ClickHouseClient(second.ConnectionStringFor(_database));
            Assert.Equal(1UL, await client.ExecuteScalarAsync("SELECT count() FROM jobs WHERE id = 'seen-by-both'"));
        }

        // Disposing the second peer closed its session only.
        Assert.Equal(1UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
    }

    [Fact]
    public async Task Concurrent_requests_are_serialised_safely()
    {
        await _client.ExecuteNonQueryAsync(Ddl("jobs"));
        var tasks = Enumerable.Range(0, 16).Select(async i =>
        {
            var options = new QueryOptions { CustomSettings = new Dictionary<string, object> { ["max_result_rows"] = 1000 + i } };
            await InsertAsync($"c{i}", DateTime.UtcNow, (ulong)i, null, []);
            return (i, await _client.ExecuteScalarAsync("SELECT toString(getSetting('max_result_rows'))", options: options));
        });
        foreach (var (i, setting) in await Task.WhenAll(tasks))
        {
            Assert.Equal($"{1000 + i}", setting);
        }

        Assert.Equal(16UL, await _client.ExecuteScalarAsync("SELECT count() FROM jobs"));
    }

    private static string Ddl(string table) => $"""
        CREATE TABLE IF NOT EXISTS {table}
        (
            id String,
            updated DateTime64(3, 'UTC'),
            version UInt64,
            note Nullable(String),
            tags Map(String, String)
        )
        ENGINE = ReplacingMergeTree(version)
        ORDER BY id
        """;

    private async Task InsertAsync(string id, DateTime updated, ulong version, string? note, Dictionary<string, string> tags)
    {
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("id", id);
        parameters.AddParameter("updated", updated);
        parameters.AddParameter("version", version);
        parameters.AddParameter("note", note);
        parameters.AddParameter("tags", tags);
        await _client.ExecuteNonQueryAsync(
            "INSERT INTO jobs (id, updated, version, note, tags) VALUES ({id:String}, {updated:DateTime64(3, 'UTC')}, {version:UInt64}, {note:Nullable(String)}, {tags:Map(String, String)})",
            parameters);
    }

    private static Dictionary<string, string> ToDictionary(object value) =>
        ((IEnumerable<KeyValuePair<string, string>>)value).ToDictionary();
}
