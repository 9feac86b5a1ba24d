using System.Text.RegularExpressions;

namespace Orleans.CastIron.Status.ClickHouse;

/// <summary>
/// Settings of the ClickHouse status store (section <c>CastIron:ClickHouse</c>). The seed's variables map onto them:
/// <c>CLICKHOUSE_HOST</c>, <c>CLICKHOUSE_PORT</c>, <c>CLICKHOUSE_USER</c>, <c>CLICKHOUSE_PASSWORD</c>,
/// <c>CLICKHOUSE_DATABASE</c>.
/// </summary>
public sealed partial class ClickHouseStatusOptions
{
    /// <summary>The seed's table.</summary>
    public const string Table = "cast_iron_file_status";

    /// <summary><c>CLICKHOUSE_HOST</c>. With <see cref="Port"/>, set and not <c>UNSET</c>, status goes to ClickHouse.</summary>
    public string Host { get; set; } = "";

    /// <summary><c>CLICKHOUSE_PORT</c>: the HTTP interface's port (8123 by default on servers).</summary>
    public int? Port { get; set; }

    /// <summary><c>CLICKHOUSE_USER</c>. Default <c>default</c>.</summary>
    public string User { get; set; } = "default";

    /// <summary><c>CLICKHOUSE_PASSWORD</c>. Default none.</summary>
    public string Password { get; set; } = "";

    /// <summary><c>CLICKHOUSE_DATABASE</c>. Default <c>rubicon</c>, the seed's.</summary>
    public string Database { get; set; } = "rubicon";

    /// <summary>
    /// <c>USER_SYSTEM_DEFAULT_CLASSIFICATION</c>: the <c>classification</c> column of a file whose <c>classification</c>
    /// metadata names none, as in the seed's rows. Default <c>UNCLASSIFIED</c>.
    /// </summary>
    public string DefaultClassification { get; set; } = StatusRows.DefaultClassification;

    /// <summary>TLS to the server. Default off.</summary>
    public bool Secure { get; set; }

    /// <summary>Rows per insert. Default 1,000.</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>How long a written row may wait to be batched with others. Default 1 s (fewer, larger inserts: ClickHouse prefers them).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Folder of the journal: every row is appended there before it is sent and removed once ClickHouse has it, so
    /// rows survive ClickHouse being down and the silo being killed. Default <c>data/.castiron/clickhouse</c>.
    /// </summary>
    public string JournalPath { get; set; } = Path.Combine("data", ".castiron", "clickhouse");

    /// <summary>Longest wait between two attempts to reach ClickHouse while it is down. Default 10 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when host and port are set: the ClickHouse store replaces the local status index.</summary>
    public bool Enabled => IsSet(Host) && Port is not null;

    /// <summary>The driver's settings (credentials are not pasted into a connection string).</summary>
    public global::ClickHouse.Driver.ADO.ClickHouseClientSettings Settings() => new()
    {
        Host = Host.Trim(),
        Port = (ushort)(Port ?? 8123),
        Protocol = Secure ? "https" : "http",
        Username = User,
        Password = Password,
    };

    /// <summary>The table, qualified (names are validated: they cannot be query parameters).</summary>
    public string QualifiedTable => $"{Database}.{Table}";

    /// <summary>Checks the settings (only when enabled); names the seed variable of each problem.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            yield break;
        }

        if (Host.Trim().Any(c => char.IsWhiteSpace(c) || c is '/' or ':' or ';' or '@' or '?'))
        {
            yield return $"CLICKHOUSE_HOST (CastIron:ClickHouse:Host) '{Host}' is not a host name";
        }

        if (Port is < 1 or > 65535)
        {
            yield return $"CLICKHOUSE_PORT (CastIron:ClickHouse:Port) {Port} is not a TCP port (1-65535)";
        }
        else if (Port is 9000 or 9440)
        {
            // The seed spoke the native protocol; this store speaks HTTP.
            yield return $"CLICKHOUSE_PORT (CastIron:ClickHouse:Port) {Port} is ClickHouse's native-protocol port; give its HTTP port (8123, or 8443 with TLS)";
        }

        if (!Identifier().IsMatch(Database))
        {
            yield return $"CLICKHOUSE_DATABASE (CastIron:ClickHouse:Database) '{Database}' is not a plain identifier (letters, digits, '_', not starting with a digit)";
        }

        if (User.Contains(';', StringComparison.Ordinal) || Password.Contains(';', StringComparison.Ordinal))
        {
            yield return "CLICKHOUSE_USER and CLICKHOUSE_PASSWORD must not contain ';'";
        }

        if (BatchSize is < 1 or > 1_000_000 || FlushInterval <= TimeSpan.Zero || RetryMaxDelay <= TimeSpan.Zero)
        {
            yield return "CastIron:ClickHouse:BatchSize must be 1-1000000, FlushInterval and RetryMaxDelay positive";
        }

        if (string.IsNullOrWhiteSpace(DefaultClassification))
        {
            yield return "USER_SYSTEM_DEFAULT_CLASSIFICATION (CastIron:ClickHouse:DefaultClassification) must not be blank";
        }

        if (string.IsNullOrWhiteSpace(JournalPath))
        {
            yield return "CastIron:ClickHouse:JournalPath must name a folder";
        }
    }

    internal static bool IsSet(string? value) =>
        !string.IsNullOrWhiteSpace(value) && !string.Equals(value.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    private static partial Regex Identifier();
}
