using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using Orleans.Runtime;

namespace Orleans.CastIron.Status.ClickHouse.Providers;

/// <summary>
/// File status in ClickHouse. A write only appends to the local journal and returns: a background writer sends the
/// journal in batches (binary inserts, no SQL text built from values) and removes what ClickHouse acknowledged, so a
/// file is never held up by the status store and no status is lost while ClickHouse is down or the silo is killed.
/// Reads go to ClickHouse, latest row per file (<c>FINAL</c>), with every value passed as a query parameter.
/// </summary>
public sealed partial class ClickHouseFileStatusStore : IFileStatusStore, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private readonly ClickHouseStatusOptions _options;
    private readonly ILogger _logger;
    private readonly StatusJournal _journal;
    private readonly ClickHouseClient _client;
    private readonly SemaphoreSlim _written = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _sender;
    private bool _schemaReady;
    private int _failures;
    private int _stopped;
    private int _refusals;

    /// <summary>Attempts at one batch ClickHouse refuses (while answering) before it is set aside.</summary>
    private const int MaxRefusals = 10;

    /// <summary>What reads select: our record, and the seed's own columns for rows the seed wrote.</summary>
    private const string ReadColumns = "record, id, bucket_name, file_name, status, original_filename";

    private const int UnknownTable = 60;
    private const int UnknownDatabase = 81;
    private int _disposed;

    public ClickHouseFileStatusStore(ClickHouseStatusOptions options, ILogger<ClickHouseFileStatusStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _journal = new StatusJournal(options.JournalPath);
        // One client for the store's life: it pools its HTTP connections.
        _client = new ClickHouseClient(options.Settings());
    }

    /// <summary>True while rows wait in the journal (ClickHouse down, or a batch on its way).</summary>
    public bool HasPending => _journal.HasPending;

    public Task UpsertAsync(FileStatusRecord record, CancellationToken cancellationToken = default)
    {
        _journal.Append(StatusRows.ToJournalLine(record));
        Wake();
        return Task.CompletedTask;
    }

    public async Task<FileStatusRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var rows = await ReadRecordsAsync($"SELECT {ReadColumns} FROM {_options.QualifiedTable} FINAL WHERE id = {{id:String}} LIMIT 1", [("id", id)], cancellationToken).ConfigureAwait(false);
        return rows.FirstOrDefault();
    }

    public async Task<IReadOnlyList<FileStatusRecord>> QueryAsync(FileStatus? status, int limit, int offset = 0, CancellationToken cancellationToken = default)
    {
        var where = status is null ? "" : "WHERE status = {status:String}";
        var parameters = new List<(string, object)> { ("limit", (uint)Math.Max(0, limit)), ("offset", (uint)Math.Max(0, offset)) };
        if (status is { } wanted)
        {
            parameters.Add(("status", wanted.ToString()));
        }

        return await ReadRecordsAsync($"SELECT {ReadColumns} FROM {_options.QualifiedTable} FINAL {where} ORDER BY updated_dt DESC, id LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}", parameters, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var reader = await _client.ExecuteReaderAsync($"SELECT status, count() FROM {_options.QualifiedTable} FINAL GROUP BY status", new ClickHouseParameterCollection(), null, cancellationToken).ConfigureAwait(false);
        var counts = new Dictionary<FileStatus, int>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (Enum.TryParse<FileStatus>(reader.GetString(0), out var status))
            {
                counts[status] = Convert.ToInt32(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return counts;
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ClickHouseFileStatusStore), ServiceLifecycleStage.ApplicationServices, StartAsync, StopAsync);

    /// <summary>Starts the background writer (which also creates the database and table when missing).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _sender ??= Task.Run(() => SendLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Sends what is left, within <paramref name="cancellationToken"/>; the rest stays in the journal for the next start.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        // Once: the silo's lifecycle stops it, then the container disposes it (under each name it is registered as).
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_sender is not null)
        {
            await _sender.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        try
        {
            await SendPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            LogLeftInJournal(Path.GetFullPath(_options.JournalPath));
        }

        _journal.Close();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await StopAsync(grace.Token).ConfigureAwait(false);
        _stopping.Dispose();
        _written.Dispose();
        _client.Dispose();
    }

    private void Wake()
    {
        try
        {
            if (_written.CurrentCount == 0)
            {
                _written.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task SendLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Rows written meanwhile join this batch: one insert carries many transitions.
                await _written.WaitAsync(_options.FlushInterval, stopping).ConfigureAwait(false);
                await Task.Delay(_options.FlushInterval, stopping).ConfigureAwait(false);
                await SendPendingAsync(stopping).ConfigureAwait(false);
                if (_failures > 0)
                {
                    LogBack(_failures);
                    _failures = 0;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Down or refusing: the rows wait in the journal. Said once per outage, then every 30th attempt.
                if (_failures++ % 30 == 0)
                {
                    LogUnavailable(ex, _options.Host, _options.Port, ex.Message);
                }

                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.RetryMaxDelay.TotalMilliseconds, 200 * Math.Pow(2, Math.Min(_failures, 10))));
                await Task.Delay(delay, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Sends the sealed journal segments, oldest first, in inserts of up to <see cref="ClickHouseStatusOptions.BatchSize"/>
    /// rows across segments (a backlog is not thousands of tiny inserts), removing each segment once all of it is in.
    /// </summary>
    private async Task SendPendingAsync(CancellationToken cancellationToken)
    {
        var segments = _journal.Seal();
        if (segments.Count == 0)
        {
            return;
        }

        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var batch = new List<object?[]>(_options.BatchSize);
        var covered = new List<string>();
        foreach (var segment in segments)
        {
            foreach (var line in StatusJournal.Read(segment))
            {
                if (ToRowOrSkip(line) is { } row)
                {
                    batch.Add(row);
                }
            }

            covered.Add(segment);
            if (batch.Count >= _options.BatchSize)
            {
                await InsertAsync(batch, covered, cancellationToken).ConfigureAwait(false);
            }
        }

        await InsertAsync(batch, covered, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Inserts <paramref name="rows"/> and removes the <paramref name="segments"/> they came from. A batch that keeps
    /// failing while ClickHouse answers other requests (a refusal that will not pass) is set aside after
    /// <see cref="MaxRefusals"/> attempts so the rows behind it go on.
    /// </summary>
    private async Task InsertAsync(List<object?[]> rows, List<string> segments, CancellationToken cancellationToken)
    {
        if (segments.Count == 0)
        {
            return;
        }

        try
        {
            if (rows.Count > 0)
            {
                // Segments sent twice (a crash after the insert, before the delete) repeat rows with the same
                // version: ReplacingMergeTree folds them.
                await _client.InsertBinaryAsync(_options.QualifiedTable, StatusRows.Columns, rows, new InsertOptions { BatchSize = _options.BatchSize }, cancellationToken).ConfigureAwait(false);
            }

            _refusals = 0;
        }
        catch (ClickHouseServerException refused) when (!cancellationToken.IsCancellationRequested)
        {
            if (refused.ErrorCode is UnknownTable or UnknownDatabase)
            {
                // Dropped behind our back: created again at the next attempt.
                _schemaReady = false;
            }

            if (++_refusals < MaxRefusals)
            {
                throw;
            }

            foreach (var segment in segments)
            {
                LogQuarantined(refused, _journal.Quarantine(segment), refused.Message);
            }

            _refusals = 0;
            rows.Clear();
            segments.Clear();
            return;
        }

        foreach (var segment in segments)
        {
            StatusJournal.Acknowledge(segment);
        }

        rows.Clear();
        segments.Clear();
    }

    /// <summary>A journal line that does not make a row (a damaged file) is logged and skipped: it must not hold back the rest.</summary>
    private object?[]? ToRowOrSkip(string line)
    {
        try
        {
            return StatusRows.ToRow(StatusRows.FromRecordJson(line), line, _options.DefaultClassification);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogSkippedLine(ex, line.Length);
            return null;
        }
    }

    /// <summary>
    /// Creates what is missing, and only that (a user allowed to insert and select need not be allowed to create a
    /// database that exists): the database, the table, or, on the seed's own table, the columns we add.
    /// </summary>
    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady)
        {
            return;
        }

        var database = Parameters(("db", _options.Database));
        if (Convert.ToUInt64(await _client.ExecuteScalarAsync("SELECT count() FROM system.databases WHERE name = {db:String}", database, null, cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            // Names are validated identifiers (they cannot be parameters); no value is ever part of SQL text.
            await _client.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {_options.Database}", new ClickHouseParameterCollection(), null, cancellationToken).ConfigureAwait(false);
        }

        var table = Parameters(("db", _options.Database), ("table", ClickHouseStatusOptions.Table));
        var engine = (string?)await _client.ExecuteScalarAsync("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {table:String}", table, null, cancellationToken).ConfigureAwait(false);
        if (engine is null)
        {
            await _client.ExecuteNonQueryAsync(StatusRows.CreateTable(_options.QualifiedTable), new ClickHouseParameterCollection(), null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // The seed's table (its columns only): ours are added; it keeps its engine.
            foreach (var (column, type) in StatusRows.AddedColumns)
            {
                await _client.ExecuteNonQueryAsync($"ALTER TABLE {_options.QualifiedTable} ADD COLUMN IF NOT EXISTS {column} {type}", new ClickHouseParameterCollection(), null, cancellationToken).ConfigureAwait(false);
            }

            if (!engine.StartsWith("ReplacingMergeTree", StringComparison.Ordinal))
            {
                LogWrongEngine(_options.QualifiedTable, engine);
            }
        }

        _schemaReady = true;
        LogSchemaReady(_options.QualifiedTable);
    }

    private static ClickHouseParameterCollection Parameters(params (string Name, object Value)[] values)
    {
        var collection = new ClickHouseParameterCollection();
        foreach (var (name, value) in values)
        {
            collection.Add(new ClickHouseDbParameter { ParameterName = name, Value = value });
        }

        return collection;
    }

    private async Task<IReadOnlyList<FileStatusRecord>> ReadRecordsAsync(string sql, IEnumerable<(string Name, object Value)> parameters, CancellationToken cancellationToken)
    {
        var collection = Parameters([.. parameters]);
        await using var reader = await _client.ExecuteReaderAsync(sql, collection, null, cancellationToken).ConfigureAwait(false);
        var records = new List<FileStatusRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = reader.IsDBNull(0) ? "" : reader.GetString(0);
            if (record.Length > 0)
            {
                records.Add(StatusRows.FromRecordJson(record));
                continue;
            }

            // A row the seed wrote (no record of ours): what its own columns say.
            records.Add(new FileStatusRecord
            {
                Id = reader.GetString(1),
                BucketName = reader.GetString(2),
                FileName = reader.GetString(3),
                Status = Enum.TryParse<FileStatus>(reader.IsDBNull(4) ? "" : reader.GetString(4), out var status) ? status : FileStatus.Queued,
                OriginalFilename = reader.GetString(5),
            });
        }

        return records;
    }

    [LoggerMessage(1, LogLevel.Warning, "ClickHouse at {Host}:{Port} is not taking status rows ({Reason}); they wait in the local journal and are sent when it is back")]
    private partial void LogUnavailable(Exception exception, string host, int? port, string reason);

    [LoggerMessage(2, LogLevel.Information, "ClickHouse is taking status rows again after {Failures} failed attempt(s)")]
    private partial void LogBack(int failures);

    [LoggerMessage(3, LogLevel.Information, "Status table {Table} ready")]
    private partial void LogSchemaReady(string table);

    [LoggerMessage(5, LogLevel.Error, "Skipped a journal line of {Length} characters that is not a status record")]
    private partial void LogSkippedLine(Exception exception, int length);

    [LoggerMessage(6, LogLevel.Error, "ClickHouse keeps refusing status rows ({Reason}); set them aside in {Segment} so the rest go on")]
    private partial void LogQuarantined(Exception exception, string segment, string reason);

    [LoggerMessage(7, LogLevel.Error, "The existing table {Table} is {Engine}, not ReplacingMergeTree(version): reads may show a file's older states")]
    private partial void LogWrongEngine(string table, string engine);

    [LoggerMessage(4, LogLevel.Warning, "Status rows not yet in ClickHouse stay in the journal at {Folder} and are sent at the next start")]
    private partial void LogLeftInJournal(string folder);
}
