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
    private int _disposed;

    public ClickHouseFileStatusStore(ClickHouseStatusOptions options, ILogger<ClickHouseFileStatusStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _journal = new StatusJournal(options.JournalPath);
        // One client for the store's life: it pools its HTTP connections.
        _client = new ClickHouseClient(options.ConnectionString);
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
        var rows = await ReadRecordsAsync($"SELECT record FROM {_options.QualifiedTable} FINAL WHERE id = {{id:String}} LIMIT 1", [("id", id)], cancellationToken).ConfigureAwait(false);
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

        return await ReadRecordsAsync($"SELECT record FROM {_options.QualifiedTable} FINAL {where} ORDER BY updated_dt DESC, id LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}", parameters, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<FileStatus, int>> CountAsync(CancellationToken cancellationToken = default)
    {
        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Sends every sealed journal segment, oldest first, removing each once ClickHouse has it.</summary>
    private async Task SendPendingAsync(CancellationToken cancellationToken)
    {
        var segments = _journal.Seal();
        if (segments.Count == 0)
        {
            return;
        }

        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        foreach (var segment in segments)
        {
            // A segment sent twice (a crash after the insert, before the delete) repeats rows with the same
            // version: ReplacingMergeTree keeps one.
            foreach (var batch in StatusJournal.Read(segment).Select(ParseOrSkip).OfType<FileStatusRecord>().Chunk(_options.BatchSize))
            {
                await _client.InsertBinaryAsync(_options.QualifiedTable, StatusRows.Columns, batch.Select(StatusRows.ToRow), new InsertOptions { BatchSize = _options.BatchSize }, cancellationToken).ConfigureAwait(false);
            }

            StatusJournal.Acknowledge(segment);
        }
    }

    /// <summary>A journal line that is not a record (a damaged file) is logged and skipped: it must not hold back the rest.</summary>
    private FileStatusRecord? ParseOrSkip(string line)
    {
        try
        {
            return StatusRows.FromRecordJson(line);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidDataException or NotSupportedException)
        {
            LogSkippedLine(ex, line.Length > 200 ? line[..200] : line);
            return null;
        }
    }

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady)
        {
            return;
        }

        // Names are validated identifiers (they cannot be parameters); no value is ever part of SQL text.
        foreach (var statement in new[] { $"CREATE DATABASE IF NOT EXISTS {_options.Database}", StatusRows.CreateTable(_options.QualifiedTable) })
        {
            await _client.ExecuteNonQueryAsync(statement, new ClickHouseParameterCollection(), null, cancellationToken).ConfigureAwait(false);
        }

        _schemaReady = true;
        LogSchemaReady(_options.QualifiedTable);
    }

    private async Task<IReadOnlyList<FileStatusRecord>> ReadRecordsAsync(string sql, IEnumerable<(string Name, object Value)> parameters, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var collection = new ClickHouseParameterCollection();
        foreach (var (name, value) in parameters)
        {
            collection.Add(new ClickHouseDbParameter { ParameterName = name, Value = value });
        }

        await using var reader = await _client.ExecuteReaderAsync(sql, collection, null, cancellationToken).ConfigureAwait(false);
        var records = new List<FileStatusRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(StatusRows.FromRecordJson(reader.GetString(0)));
        }

        return records;
    }

    [LoggerMessage(1, LogLevel.Warning, "ClickHouse at {Host}:{Port} is not taking status rows ({Reason}); they wait in the local journal and are sent when it is back")]
    private partial void LogUnavailable(Exception exception, string host, int? port, string reason);

    [LoggerMessage(2, LogLevel.Information, "ClickHouse is taking status rows again after {Failures} failed attempt(s)")]
    private partial void LogBack(int failures);

    [LoggerMessage(3, LogLevel.Information, "Status table {Table} ready")]
    private partial void LogSchemaReady(string table);

    [LoggerMessage(5, LogLevel.Error, "Skipped a journal line that is not a status record: {Line}")]
    private partial void LogSkippedLine(Exception exception, string line);

    [LoggerMessage(4, LogLevel.Warning, "Status rows not yet in ClickHouse stay in the journal at {Folder} and are sent at the next start")]
    private partial void LogLeftInJournal(string folder);
}
