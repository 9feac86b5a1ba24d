using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.CastIron.ClickHousePeer;

/// <summary>
/// One chDB connection (a clickhouse-local session on a data directory): tables, <c>USE</c> and <c>SET</c> persist
/// between statements. chDB runs one statement at a time per connection, so <see cref="Execute(ReadOnlySpan{byte}, string, IReadOnlyList{KeyValuePair{string, string}}?)"/>
/// takes a lock. The engine keeps one data directory per process: every session open at once must use the same one.
/// </summary>
public sealed class ChdbSession : IDisposable
{
    private static readonly Lock OpenLock = new();
    private static string? _openPath;
    private static int _openCount;

    private readonly Lock _lock = new();
    private nint _connectionPointer;
    private nint _connection;

    private ChdbSession(string dataDirectory, nint connectionPointer)
    {
        DataDirectory = dataDirectory;
        _connectionPointer = connectionPointer;
        _connection = Marshal.ReadIntPtr(connectionPointer);
    }

    /// <summary>The engine's data directory (<c>--path</c>).</summary>
    public string DataDirectory { get; }

    /// <summary>Loads <paramref name="libraryPath"/> (once per process) and connects to <paramref name="dataDirectory"/>.</summary>
    public static unsafe ChdbSession Open(string libraryPath, string dataDirectory)
    {
        ChdbNative.Load(libraryPath);
        dataDirectory = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        lock (OpenLock)
        {
            if (_openCount > 0 && !string.Equals(_openPath, dataDirectory, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"chDB already runs on {_openPath} in this process; it takes one data directory per process, so {dataDirectory} cannot be opened too");
            }

            var arguments = new[] { "clickhouse", "--path=" + dataDirectory };
            var buffers = arguments.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
            try
            {
                var argv = stackalloc byte*[buffers.Length];
                for (var i = 0; i < buffers.Length; i++)
                {
                    argv[i] = (byte*)buffers[i];
                }

                var pointer = ChdbNative.chdb_connect(buffers.Length, argv);
                if (pointer == 0 || Marshal.ReadIntPtr(pointer) == 0)
                {
                    throw new InvalidOperationException($"chdb_connect failed for {dataDirectory}");
                }

                _openPath = dataDirectory;
                _openCount++;
                return new ChdbSession(dataDirectory, pointer);
            }
            finally
            {
                foreach (var buffer in buffers)
                {
                    Marshal.FreeCoTaskMem(buffer);
                }
            }
        }
    }

    /// <summary>Runs one statement given as text.</summary>
    public ChdbResult Execute(string sql, string format = "TabSeparated", IReadOnlyList<KeyValuePair<string, string>>? parameters = null) =>
        Execute(Encoding.UTF8.GetBytes(sql), format, parameters);

    /// <summary>
    /// Runs <paramref name="sql"/> (binary-safe: chDB takes the length, not a NUL-terminated string).
    /// <paramref name="format"/> is the output format when the statement names none. <paramref name="parameters"/>
    /// bind <c>{name:Type}</c> placeholders for this statement only; values are in ClickHouse's escaped text form, as
    /// the HTTP interface takes them. Inline INSERT data is cut at the first blank line by chDB's statement splitter,
    /// so binary rows go through <see cref="Insert"/> instead.
    /// </summary>
    public unsafe ChdbResult Execute(ReadOnlySpan<byte> sql, string format, IReadOnlyList<KeyValuePair<string, string>>? parameters = null)
    {
        var formatBytes = Encoding.ASCII.GetBytes(format);
        using var bound = new BoundParameters(parameters);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_connection == 0, this);
            nint result;
            fixed (byte* query = sql)
            fixed (byte* fmt = formatBytes)
            {
                result = bound.Count == 0
                    ? ChdbNative.chdb_query_n(_connection, query, (nuint)sql.Length, fmt, (nuint)formatBytes.Length)
                    : ChdbNative.chdb_query_with_params_n(_connection, query, (nuint)sql.Length, fmt, (nuint)formatBytes.Length, bound.Names, bound.NameLengths, bound.Values, bound.ValueLengths, (nuint)bound.Count);
            }

            return ReadAndDestroy(result);
        }
    }

    /// <summary>
    /// Streams <paramref name="data"/> (rows in <paramref name="format"/>, e.g. RowBinary) into
    /// <paramref name="insert"/>, an INSERT statement without its FORMAT clause, through chDB's insert stream.
    /// </summary>
    public unsafe ChdbResult Insert(ReadOnlySpan<byte> insert, string format, ReadOnlySpan<byte> data, IReadOnlyList<KeyValuePair<string, string>>? parameters = null)
    {
        const int Chunk = 1 << 20;
        var formatBytes = Encoding.ASCII.GetBytes(format);
        using var bound = new BoundParameters(parameters);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_connection == 0, this);
            nint stream;
            fixed (byte* query = insert)
            fixed (byte* fmt = formatBytes)
            {
                stream = bound.Count == 0
                    ? ChdbNative.chdb_stream_insert_n(_connection, query, (nuint)insert.Length, fmt, (nuint)formatBytes.Length)
                    : ChdbNative.chdb_stream_insert_with_params_n(_connection, query, (nuint)insert.Length, fmt, (nuint)formatBytes.Length, bound.Names, bound.NameLengths, bound.Values, bound.ValueLengths, (nuint)bound.Count);
            }

            if (stream == 0)
            {
                return ChdbResult.Failure("Code: 1002. DB::Exception: chDB returned no insert stream. (UNKNOWN_EXCEPTION)");
            }

            try
            {
                if (ChdbNative.chdb_stream_insert_error(stream) is var startError && startError is not null)
                {
                    return ChdbResult.Failure(Marshal.PtrToStringUTF8((nint)startError) ?? "");
                }

                fixed (byte* rows = data)
                {
                    for (var offset = 0; offset < data.Length; offset += Chunk)
                    {
                        // A failed append leaves its error on the stream; chdb_stream_done then reports it.
                        if (ChdbNative.chdb_stream_append(stream, rows + offset, (nuint)Math.Min(Chunk, data.Length - offset)) != 0)
                        {
                            break;
                        }
                    }
                }

                var result = ReadAndDestroy(ChdbNative.chdb_stream_done(stream));
                return result.Error is null && ChdbNative.chdb_stream_insert_error(stream) is var error && error is not null
                    ? ChdbResult.Failure(Marshal.PtrToStringUTF8((nint)error) ?? "")
                    : result;
            }
            finally
            {
                ChdbNative.chdb_destroy_insert_stream(stream);
            }
        }
    }

    /// <summary>Runs a statement and throws when it fails; returns its output as UTF-8 text.</summary>
    public string ExecuteOrThrow(string sql, string format = "TabSeparated")
    {
        var result = Execute(sql, format);
        return result.Error is null ? Encoding.UTF8.GetString(result.Data) : throw new InvalidOperationException(result.Error);
    }

    /// <summary>Closes the connection; the data directory stays (the caller owns it).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_connection == 0)
            {
                return;
            }

            ChdbNative.chdb_close_conn(_connectionPointer);
            _connection = 0;
            _connectionPointer = 0;
        }

        lock (OpenLock)
        {
            if (--_openCount == 0)
            {
                _openPath = null;
            }
        }
    }

    private static ChdbResult ReadAndDestroy(nint result)
    {
        if (result == 0)
        {
            return ChdbResult.Failure("Code: 1002. DB::Exception: chDB returned no result. (UNKNOWN_EXCEPTION)");
        }

        try
        {
            return Read(result);
        }
        finally
        {
            ChdbNative.chdb_destroy_query_result(result);
        }
    }

    private static unsafe ChdbResult Read(nint result)
    {
        var error = ChdbNative.chdb_result_error(result);
        if (error is not null)
        {
            return ChdbResult.Failure(Marshal.PtrToStringUTF8((nint)error) ?? "");
        }

        var length = (int)ChdbNative.chdb_result_length(result);
        var buffer = ChdbNative.chdb_result_buffer(result);
        var data = length == 0 || buffer is null ? [] : new ReadOnlySpan<byte>(buffer, length).ToArray();
        return new ChdbResult(data, null)
        {
            ResultRows = ChdbNative.chdb_result_rows_read(result),
            ResultBytes = ChdbNative.chdb_result_bytes_read(result),
            ReadRows = ChdbNative.chdb_result_storage_rows_read(result),
            ReadBytes = ChdbNative.chdb_result_storage_bytes_read(result),
            WrittenRows = ChdbNative.chdb_result_rows_written(result),
            WrittenBytes = ChdbNative.chdb_result_bytes_written(result),
            Elapsed = TimeSpan.FromSeconds(ChdbNative.chdb_result_elapsed(result)),
        };
    }
}

/// <summary>Parameter names and values copied to unmanaged memory for one call (chDB copies them in turn).</summary>
internal sealed unsafe class BoundParameters : IDisposable
{
    private readonly nint _block;

    public BoundParameters(IReadOnlyList<KeyValuePair<string, string>>? parameters)
    {
        Count = parameters?.Count ?? 0;
        if (Count == 0)
        {
            return;
        }

        var encoded = parameters!.Select(p => (Name: Encoding.UTF8.GetBytes(p.Key), Value: Encoding.UTF8.GetBytes(p.Value))).ToList();
        var tables = 4 * Count * sizeof(nint);
        _block = (nint)NativeMemory.Alloc((nuint)(tables + encoded.Sum(e => e.Name.Length + e.Value.Length)));
        Names = (byte**)_block;
        Values = Names + Count;
        NameLengths = (nuint*)(Values + Count);
        ValueLengths = NameLengths + Count;
        var cursor = (byte*)_block + tables;
        for (var i = 0; i < Count; i++)
        {
            Names[i] = cursor;
            encoded[i].Name.CopyTo(new Span<byte>(cursor, encoded[i].Name.Length));
            NameLengths[i] = (nuint)encoded[i].Name.Length;
            cursor += encoded[i].Name.Length;
            Values[i] = cursor;
            encoded[i].Value.CopyTo(new Span<byte>(cursor, encoded[i].Value.Length));
            ValueLengths[i] = (nuint)encoded[i].Value.Length;
            cursor += encoded[i].Value.Length;
        }
    }

    public int Count { get; }

    public byte** Names { get; }

    public byte** Values { get; }

    public nuint* NameLengths { get; }

    public nuint* ValueLengths { get; }

    public void Dispose()
    {
        if (_block != 0)
        {
            NativeMemory.Free((void*)_block);
        }
    }
}

/// <summary>What one chDB statement returned: its output, or ClickHouse's error text.</summary>
public sealed partial class ChdbResult(byte[] data, string? error)
{
    /// <summary>The statement's output in the requested format (empty on failure).</summary>
    public byte[] Data { get; } = data;

    /// <summary>ClickHouse's error text (<c>Code: 60. DB::Exception: ... (UNKNOWN_TABLE)</c>), or null on success.</summary>
    public string? Error { get; } = error;

    /// <summary>The ClickHouse error code parsed from <see cref="Error"/> (1002, UNKNOWN_EXCEPTION, when it names none); 0 on success.</summary>
    public int ErrorCode => Error is null ? 0 : CodePattern().Match(Error) is { Success: true } m ? int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : 1002;

    /// <summary>The error's symbolic name (<c>UNKNOWN_TABLE</c>): the last parenthesised upper-case word of the text.</summary>
    public string? ErrorName => Error is null ? null : NamePattern().Match(Error) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>Rows in the result set.</summary>
    public ulong ResultRows { get; init; }

    /// <summary>Bytes of the result set.</summary>
    public ulong ResultBytes { get; init; }

    /// <summary>Rows read from storage.</summary>
    public ulong ReadRows { get; init; }

    /// <summary>Bytes read from storage.</summary>
    public ulong ReadBytes { get; init; }

    /// <summary>Rows written (inserts).</summary>
    public ulong WrittenRows { get; init; }

    /// <summary>Bytes written (inserts).</summary>
    public ulong WrittenBytes { get; init; }

    /// <summary>Time chDB took.</summary>
    public TimeSpan Elapsed { get; init; }

    internal static ChdbResult Failure(string error) => new([], error);

    [GeneratedRegex(@"^\s*Code:\s*(\d+)")]
    private static partial Regex CodePattern();

    [GeneratedRegex(@"\(([A-Z][A-Z0-9_]+)\)[^()]*$")]
    private static partial Regex NamePattern();
}
