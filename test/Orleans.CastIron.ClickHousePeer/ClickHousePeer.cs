using System.Data.Common;
using System.Diagnostics;

namespace Orleans.CastIron.ClickHousePeer;

/// <summary>
/// The ClickHouse peer for integration tests: the server named by <c>CLICKHOUSE_URL</c> when set (e.g.
/// <c>http://default:secret@127.0.0.1:8123</c>, or with <c>CLICKHOUSE_USER</c>/<c>CLICKHOUSE_PASSWORD</c>); otherwise
/// ClickHouse 26.7 itself as chDB (libchdb.so, fetched by the project's own <c>test/infra/clickhouse/fetch-chdb.sh</c>
/// or named by <c>CHDB_LIBRARY</c>) in this process, behind <see cref="ClickHouseHttpBridge"/> on a free loopback port,
/// so ClickHouse.Driver talks real HTTP to the real engine.
/// </summary>
/// <remarks>
/// chDB keeps one data directory per process, so every embedded peer of a process shares one (a temporary folder,
/// deleted when the last peer is disposed), each with its own session and port: give each test its own database
/// (<see cref="NewDatabase"/>).
/// </remarks>
public sealed class ClickHousePeer : IDisposable, IAsyncDisposable
{
    private static readonly Lock SharedLock = new();
    private static string? _sharedDataDirectory;
    private static int _embeddedPeers;

    private readonly ChdbSession? _session;
    private readonly ClickHouseHttpBridge? _bridge;
    private readonly Uri? _externalUrl;
    private bool _disposed;

    /// <summary>Connects to <c>CLICKHOUSE_URL</c>, or starts an embedded chDB peer.</summary>
    public ClickHousePeer()
    {
        var external = Environment.GetEnvironmentVariable("CLICKHOUSE_URL");
        if (!string.IsNullOrWhiteSpace(external))
        {
            _externalUrl = new Uri(external);
            var userInfo = _externalUrl.UserInfo.Split(':', 2);
            Username = Environment.GetEnvironmentVariable("CLICKHOUSE_USER") ?? (userInfo[0] is { Length: > 0 } u ? Uri.UnescapeDataString(u) : "default");
            Password = Environment.GetEnvironmentVariable("CLICKHOUSE_PASSWORD") ?? (userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "");
            return;
        }

        var library = Environment.GetEnvironmentVariable("CHDB_LIBRARY") is { Length: > 0 } named ? named : FetchLibrary();
        string dataDirectory;
        lock (SharedLock)
        {
            _sharedDataDirectory ??= Path.Combine(Path.GetTempPath(), "castiron-chdb-" + Guid.NewGuid().ToString("N")[..12]);
            dataDirectory = _sharedDataDirectory;
            _embeddedPeers++;
        }

        try
        {
            _session = ChdbSession.Open(library, dataDirectory);
            _bridge = new ClickHouseHttpBridge(_session);
            _bridge.StartAsync().GetAwaiter().GetResult();
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>The server's HTTP address.</summary>
    public Uri Url => _externalUrl is { } url ? new Uri(url.GetLeftPart(UriPartial.Authority) + "/") : _bridge!.Url;

    /// <summary>True when this peer is the embedded chDB (it can be stopped and started); false for <c>CLICKHOUSE_URL</c>.</summary>
    public bool IsEmbedded => _bridge is not null;

    /// <summary>The embedded peer's HTTP bridge (null for an external server).</summary>
    public ClickHouseHttpBridge? Bridge => _bridge;

    /// <summary>The embedded engine's data directory (null for an external server).</summary>
    public string? DataDirectory => _session?.DataDirectory;

    /// <summary>User name for the server (the embedded peer accepts any).</summary>
    public string Username { get; } = "default";

    /// <summary>Password for the server (the embedded peer accepts any).</summary>
    public string Password { get; } = "";

    /// <summary>A ClickHouse.Driver connection string for this peer's default database.</summary>
    public string ConnectionString => ConnectionStringFor(null);

    /// <summary>A ClickHouse.Driver connection string (<c>Host=...;Port=...;Protocol=http;Username=...;Password=...;Database=...</c>).</summary>
    public string ConnectionStringFor(string? database)
    {
        var url = Url;
        var builder = new DbConnectionStringBuilder
        {
            ["Host"] = url.Host,
            ["Port"] = url.Port,
            ["Protocol"] = url.Scheme,
            ["Username"] = Username,
            ["Password"] = Password,
        };
        if (!string.IsNullOrEmpty(database))
        {
            builder["Database"] = database;
        }

        return builder.ConnectionString;
    }

    /// <summary>A database name no other test uses.</summary>
    public static string NewDatabase(string prefix) => $"{prefix}_{Guid.NewGuid():N}";

    /// <summary>Closes the HTTP port: clients now get "connection refused", as when ClickHouse is down. Data stays.</summary>
    public Task StopAsync() => (_bridge ?? throw new NotSupportedException("an external ClickHouse (CLICKHOUSE_URL) cannot be stopped by the tests")).StopAsync();

    /// <summary>Opens the same port again after <see cref="StopAsync"/>; everything written before is still there.</summary>
    public Task StartAsync() => (_bridge ?? throw new NotSupportedException("an external ClickHouse (CLICKHOUSE_URL) cannot be started by the tests")).StartAsync();

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_bridge is not null)
        {
            await _bridge.DisposeAsync().ConfigureAwait(false);
        }

        if (_session is not null)
        {
            _session.Dispose();
            Release();
        }
    }

    private static void Release()
    {
        lock (SharedLock)
        {
            if (--_embeddedPeers > 0 || _sharedDataDirectory is null)
            {
                return;
            }

            try
            {
                Directory.Delete(_sharedDataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is not worth failing a test run for.
            }

            _sharedDataDirectory = null;
        }
    }

    /// <summary>Runs <c>infra/clickhouse/fetch-chdb.sh</c> from the test output (downloads chDB once into a cache) and returns libchdb.so's path.</summary>
    public static string FetchLibrary()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "infra", "clickhouse", "fetch-chdb.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("fetch-chdb.sh did not finish in 10 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"fetch-chdb.sh failed ({process.ExitCode}): {stderr.Result}");
        }

        var path = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return path is not null && File.Exists(path) ? path : throw new InvalidOperationException($"fetch-chdb.sh printed no library path: {stdout}{stderr.Result}");
    }
}
