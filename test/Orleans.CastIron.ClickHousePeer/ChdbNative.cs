using System.Reflection;
using System.Runtime.InteropServices;

namespace Orleans.CastIron.ClickHousePeer;

/// <summary>
/// P/Invoke bindings to chDB's C API (<c>chdb.h</c> of chDB 26.7). The library's path is only known at run time
/// (the fetch script's cache, or <c>CHDB_LIBRARY</c>), so the name <c>chdb</c> is resolved by a resolver set in
/// <see cref="Load"/> rather than by the loader's search path.
/// </summary>
internal static unsafe partial class ChdbNative
{
    private const string Library = "chdb";
    private static readonly Lock LoadLock = new();
    private static string? _loadedPath;
    private static nint _handle;

    /// <summary>Loads libchdb.so once per process; a second call with another path is refused.</summary>
    public static void Load(string path)
    {
        lock (LoadLock)
        {
            if (_loadedPath is not null)
            {
                if (!string.Equals(Path.GetFullPath(path), _loadedPath, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"libchdb.so is already loaded from {_loadedPath}; cannot load {path} too");
                }

                return;
            }

            _handle = NativeLibrary.Load(path);
            _loadedPath = Path.GetFullPath(path);
            NativeLibrary.SetDllImportResolver(typeof(ChdbNative).Assembly, Resolve);

            // ClickHouse installs process-wide handlers for SIGSEGV and friends by default; the .NET runtime needs its
            // own (a NullReferenceException is a SIGSEGV), so chDB must leave them alone. Must run before chdb_connect.
            chdb_set_signal_handlers_enabled(0);
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? _handle : 0;

    [LibraryImport(Library)]
    internal static partial void chdb_set_signal_handlers_enabled(int enabled);

    /// <summary>Returns a <c>chdb_connection*</c> (a pointer to the handle), or null.</summary>
    [LibraryImport(Library)]
    internal static partial nint chdb_connect(int argc, byte** argv);

    /// <summary>Takes the <c>chdb_connection*</c> that <see cref="chdb_connect"/> returned.</summary>
    [LibraryImport(Library)]
    internal static partial void chdb_close_conn(nint connectionPointer);

    [LibraryImport(Library)]
    internal static partial nint chdb_query_n(nint connection, byte* query, nuint queryLength, byte* format, nuint formatLength);

    /// <summary>
    /// Binds <c>{name:Type}</c> placeholders server-side for this call only; values are ClickHouse's escaped text
    /// form, exactly what the HTTP interface takes in <c>param_name</c>.
    /// </summary>
    [LibraryImport(Library)]
    internal static partial nint chdb_query_with_params_n(
        nint connection,
        byte* query,
        nuint queryLength,
        byte* format,
        nuint formatLength,
        byte** names,
        nuint* nameLengths,
        byte** values,
        nuint* valueLengths,
        nuint count);

    /// <summary>Starts a streaming INSERT: <paramref name="query"/> is the INSERT without FORMAT or data; returns a handle, never null.</summary>
    [LibraryImport(Library)]
    internal static partial nint chdb_stream_insert_n(nint connection, byte* query, nuint queryLength, byte* format, nuint formatLength);

    [LibraryImport(Library)]
    internal static partial nint chdb_stream_insert_with_params_n(
        nint connection,
        byte* query,
        nuint queryLength,
        byte* format,
        nuint formatLength,
        byte** names,
        nuint* nameLengths,
        byte** values,
        nuint* valueLengths,
        nuint count);

    /// <summary>Appends raw rows in the stream's format; 0 on success.</summary>
    [LibraryImport(Library)]
    internal static partial int chdb_stream_append(nint stream, byte* data, nuint length);

    /// <summary>Ends the input and commits; returns a result to destroy.</summary>
    [LibraryImport(Library)]
    internal static partial nint chdb_stream_done(nint stream);

    [LibraryImport(Library)]
    internal static partial byte* chdb_stream_insert_error(nint stream);

    [LibraryImport(Library)]
    internal static partial void chdb_destroy_insert_stream(nint stream);

    [LibraryImport(Library)]
    internal static partial byte* chdb_result_buffer(nint result);

    [LibraryImport(Library)]
    internal static partial nuint chdb_result_length(nint result);

    [LibraryImport(Library)]
    internal static partial double chdb_result_elapsed(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_rows_read(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_bytes_read(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_storage_rows_read(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_storage_bytes_read(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_rows_written(nint result);

    [LibraryImport(Library)]
    internal static partial ulong chdb_result_bytes_written(nint result);

    [LibraryImport(Library)]
    internal static partial byte* chdb_result_error(nint result);

    [LibraryImport(Library)]
    internal static partial void chdb_destroy_query_result(nint result);
}
