using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Orleans.CastIron.ClickHousePeer;

/// <summary>
/// Serves the part of ClickHouse's HTTP interface that ClickHouse.Driver 1.5.0 uses, on 127.0.0.1, running every
/// request on one <see cref="ChdbSession"/>:
/// <list type="bullet">
/// <item><c>GET|HEAD /ping</c> and <c>GET /</c> without a query answer <c>Ok.</c></item>
/// <item><c>GET|POST /</c>: the SQL is the <c>query</c> URL (or form) parameter followed by a newline and the body, or
/// the body alone, exactly as ClickHouse concatenates them; so <c>INSERT ... FORMAT RowBinary</c> with binary rows
/// as the body runs as one binary-safe statement.</item>
/// <item><c>database</c> (or <c>X-ClickHouse-Database</c>): applied with <c>USE</c> before each request.</item>
/// <item><c>param_name</c>: bound to <c>{name:Type}</c> by chDB for that statement only (escaped text form, as ClickHouse takes it).</item>
/// <item><c>default_format</c> (or <c>X-ClickHouse-Format</c>): the output format when the statement names none (default TabSeparated).</item>
/// <item>every other URL parameter is a setting: the session holds exactly the request's settings (<c>SET</c>,
/// and <c>SET name = DEFAULT</c> for those the previous request had and this one lacks).</item>
/// <item><c>Content-Encoding</c> of the body: gzip, deflate, br, zstd, lz4. Responses are never compressed (the
/// driver accepts an identity response whatever it offered in <c>Accept-Encoding</c>).</item>
/// <item>credentials (basic auth, <c>X-ClickHouse-User</c>/<c>X-ClickHouse-Key</c>, bearer) are accepted and not checked.</item>
/// <item>errors: the status ClickHouse gives the error, body <c>Code: n. DB::Exception: ...</c> and header
/// <c>X-ClickHouse-Exception-Code</c>; every answer carries <c>X-ClickHouse-Query-Id</c>, <c>X-ClickHouse-Summary</c>
/// and <c>X-ClickHouse-Timezone</c>.</item>
/// </list>
/// Requests are serialised: one at a time on the session. <see cref="StopAsync"/> closes the port (clients get
/// "connection refused"), <see cref="StartAsync"/> opens the same port again; the chDB session lives on meanwhile.
/// </summary>
public sealed partial class ClickHouseHttpBridge : IAsyncDisposable
{
    // HTTP-interface parameters that are not ClickHouse settings, or that the peer ignores on purpose:
    // enable_http_compression only asks for compressed responses (never sent), and readonly cannot be undone on a
    // shared session once set, so it is not applied.
    private static readonly HashSet<string> NotSettings = new(StringComparer.Ordinal)
    {
        "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
        "user", "password", "quota_key", "compress", "decompress", "buffer_size", "wait_end_of_query", "role",
        "stacktrace", "client_protocol_version", "enable_http_compression", "http_zlib_compression_level", "readonly",
    };

    private static readonly Dictionary<string, HttpStatusCode> StatusByErrorName = BuildStatusMap();

    private readonly ChdbSession _session;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, string> _appliedSettings = new(StringComparer.Ordinal);
    private readonly string _timezone;
    private readonly string _version;
    private readonly bool _log = Environment.GetEnvironmentVariable("CLICKHOUSE_PEER_LOG") is "1" or "true";
    private WebApplication? _app;

    /// <summary>Creates a bridge for <paramref name="session"/> on <paramref name="port"/> (0: a free port chosen at the first start).</summary>
    public ClickHouseHttpBridge(ChdbSession session, int port = 0)
    {
        _session = session;
        Port = port;
        var info = session.ExecuteOrThrow("SELECT timezone(), version()").TrimEnd('\n').Split('\t');
        _timezone = info[0];
        _version = info[1];
    }

    /// <summary>Called after each request with what was asked and answered (diagnostics and tests).</summary>
    public event Action<BridgeRequest>? RequestHandled;

    /// <summary>The loopback port (fixed after the first start).</summary>
    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:port/</c>.</summary>
    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>True while the port is open.</summary>
    public bool IsRunning => _app is not null;

    /// <summary>Opens the port (the same one as before after a <see cref="StopAsync"/>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null)
        {
            return;
        }

        if (Port == 0)
        {
            Port = FreePort();
        }

        // A restart may race the kernel releasing the old listener: retry the bind for a few seconds.
        for (var attempt = 0; ; attempt++)
        {
            var app = Build(Port);
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                _app = app;
                return;
            }
            catch (IOException) when (attempt < 50)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Closes the port and every open connection; the chDB session and its data stay.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var app = _app;
        if (app is null)
        {
            return;
        }

        _app = null;
        await app.StopAsync(cancellationToken).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    /// <summary>A free loopback TCP port.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private WebApplication Build(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(ClickHouseHttpBridge).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, port);
            o.AddServerHeader = false;

            // Bulk inserts are as large as the caller's batch; parameters travel in the URL, and ClickHouse takes
            // URLs up to 1 MiB (http_max_uri_size) where Kestrel stops at 8 KiB.
            o.Limits.MaxRequestBodySize = null;
            o.Limits.MaxRequestLineSize = 1 << 20;
            o.Limits.MaxRequestHeadersTotalSize = (1 << 20) + (64 << 10);
            o.Limits.MaxRequestBufferSize = 2 << 20;
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        return app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Path.Value ?? "/";
        if (path == "/ping" && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            await WriteTextAsync(response, HttpStatusCode.OK, "Ok.\n").ConfigureAwait(false);
            return;
        }

        if (path != "/")
        {
            await WriteTextAsync(response, HttpStatusCode.NotFound, $"There is no handle {path}\n\nUse / or /ping for health checks.\n").ConfigureAwait(false);
            return;
        }

        // URL parameters, then form fields (ClickHouse takes query, param_* and settings from a multipart form too).
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, values) in request.Query)
        {
            parameters[key] = values.Count > 0 ? values[^1] ?? "" : "";
        }

        byte[] body = [];
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            foreach (var (key, values) in form)
            {
                parameters[key] = values.Count > 0 ? values[^1] ?? "" : "";
            }
        }
        else if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            using var raw = new MemoryStream();
            await request.Body.CopyToAsync(raw, context.RequestAborted).ConfigureAwait(false);
            try
            {
                body = RequestBodyDecoder.Decode(raw.ToArray(), request.Headers.ContentEncoding);
            }
            catch (NotSupportedException e)
            {
                await AnswerAsync(context, parameters, null, ChdbResult.Failure($"Code: 36. DB::Exception: {e.Message}. (BAD_ARGUMENTS)")).ConfigureAwait(false);
                return;
            }
            catch (InvalidDataException e)
            {
                await AnswerAsync(context, parameters, null, ChdbResult.Failure($"Code: 432. DB::Exception: Cannot decompress the request body ({request.Headers.ContentEncoding}): {e.Message}. (UNKNOWN_CODEC)")).ConfigureAwait(false);
                return;
            }
        }

        parameters.TryGetValue("query", out var query);
        if (string.IsNullOrEmpty(query) && body.Length == 0)
        {
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            {
                await WriteTextAsync(response, HttpStatusCode.OK, "Ok.\n").ConfigureAwait(false);
            }
            else
            {
                await AnswerAsync(context, parameters, null, ChdbResult.Failure("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")).ConfigureAwait(false);
            }

            return;
        }

        if (parameters.TryGetValue("decompress", out var decompress) && decompress is "1" or "true")
        {
            await AnswerAsync(context, parameters, null, ChdbResult.Failure("Code: 48. DB::Exception: The ClickHouse peer does not read ClickHouse's native compressed blocks (decompress=1). (NOT_IMPLEMENTED)")).ConfigureAwait(false);
            return;
        }

        var sql = ComposeSql(query, body);
        var format = parameters.GetValueOrDefault("default_format") ?? request.Headers["X-ClickHouse-Format"].FirstOrDefault() ?? "TabSeparated";
        var database = parameters.GetValueOrDefault("database") ?? request.Headers["X-ClickHouse-Database"].FirstOrDefault() ?? "default";
        var queryParameters = parameters
            .Where(p => p.Key.StartsWith("param_", StringComparison.Ordinal) && p.Key.Length > 6)
            .Select(p => new KeyValuePair<string, string>(p.Key[6..], p.Value))
            .ToList();
        var settings = parameters
            .Where(p => !NotSettings.Contains(p.Key) && !p.Key.StartsWith("param_", StringComparison.Ordinal))
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

        ChdbResult result;
        await _gate.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            result = Run(database, settings, sql, format, queryParameters);
        }
        finally
        {
            _gate.Release();
        }

        await AnswerAsync(context, parameters, format, result, sql).ConfigureAwait(false);
    }

    // ClickHouse runs "<query parameter>\n<body>" (either may be absent); the data of INSERT ... FORMAT x starts just
    // after the first newline following the format name (see SplitInsertData). Trailing whitespace of the query
    // parameter is dropped so that exactly one newline separates it from the data.
    private static byte[] ComposeSql(string? query, byte[] body)
    {
        if (string.IsNullOrEmpty(query))
        {
            return body;
        }

        if (body.Length == 0)
        {
            return Encoding.UTF8.GetBytes(query);
        }

        var head = Encoding.UTF8.GetBytes(query.TrimEnd(' ', '\t', '\r', '\n') + "\n");
        var sql = new byte[head.Length + body.Length];
        head.CopyTo(sql, 0);
        body.CopyTo(sql, head.Length);
        return sql;
    }

    private ChdbResult Run(string database, Dictionary<string, string> settings, byte[] sql, string format, List<KeyValuePair<string, string>> queryParameters)
    {
        // Each HTTP request stands alone in ClickHouse; on one shared chDB session that means setting the database
        // and the settings every time and undoing the settings the previous request had.
        var use = _session.Execute($"USE {QuoteIdentifier(database)}");
        if (use.Error is not null)
        {
            return use;
        }

        foreach (var name in _appliedSettings.Keys.Where(k => !settings.ContainsKey(k)).ToList())
        {
            _session.Execute($"SET {name} = DEFAULT");
            _appliedSettings.Remove(name);
        }

        foreach (var (name, value) in settings)
        {
            if (_appliedSettings.TryGetValue(name, out var applied) && applied == value)
            {
                continue;
            }

            if (!SettingName().IsMatch(name))
            {
                return ChdbResult.Failure($"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)");
            }

            var set = _session.Execute($"SET {name} = {QuoteString(value)}");
            if (set.Error is not null)
            {
                return set;
            }

            _appliedSettings[name] = value;
        }

        if (SplitInsertData(sql) is var (insert, dataFormat, dataStart))
        {
            return _session.Insert(sql.AsSpan(0, insert), dataFormat, sql.AsSpan(dataStart), queryParameters);
        }

        return _session.Execute(sql, format, queryParameters);
    }

    /// <summary>
    /// Finds <c>INSERT ... FORMAT name</c> followed by a newline and data: returns the length of the statement
    /// before <c>FORMAT</c>, the format and where the data starts. chDB's text path cuts inline data at the first
    /// blank line (two newline bytes, common in binary rows), so such data goes through its insert stream instead.
    /// </summary>
    internal static (int Insert, string Format, int DataStart)? SplitInsertData(byte[] sql)
    {
        // Latin-1 maps each byte to one char, so match positions are byte offsets. The statement is near the start.
        var head = Encoding.Latin1.GetString(sql, 0, Math.Min(sql.Length, 64 * 1024));
        var match = InsertWithData().Match(head);
        if (!match.Success)
        {
            return null;
        }

        var dataStart = match.Index + match.Length;
        return dataStart < sql.Length ? (match.Groups["insert"].Length, match.Groups["format"].Value, dataStart) : null;
    }

    private async Task AnswerAsync(HttpContext context, Dictionary<string, string> parameters, string? format, ChdbResult result, byte[]? sql = null)
    {
        var response = context.Response;
        var queryId = parameters.GetValueOrDefault("query_id") is { Length: > 0 } id ? id : Guid.NewGuid().ToString();
        response.Headers["X-ClickHouse-Query-Id"] = queryId;
        response.Headers["X-ClickHouse-Timezone"] = _timezone;
        response.Headers["X-ClickHouse-Server-Display-Name"] = "castiron-chdb-peer";
        response.Headers["X-ClickHouse-Summary"] = string.Create(
            CultureInfo.InvariantCulture,
            $$"""{"read_rows":"{{result.ReadRows}}","read_bytes":"{{result.ReadBytes}}","written_rows":"{{result.WrittenRows}}","written_bytes":"{{result.WrittenBytes}}","total_rows_to_read":"{{result.ReadRows}}","result_rows":"{{result.ResultRows}}","result_bytes":"{{result.ResultBytes}}","elapsed_ns":"{{(long)(result.Elapsed.TotalMilliseconds * 1_000_000)}}"}""");
        var status = HttpStatusCode.OK;
        if (result.Error is { } error)
        {
            status = result.ErrorName is { } name && StatusByErrorName.TryGetValue(name, out var mapped) ? mapped : HttpStatusCode.InternalServerError;
            response.Headers["X-ClickHouse-Exception-Code"] = result.ErrorCode.ToString(CultureInfo.InvariantCulture);
            var text = error.EndsWith('\n') ? error : error + $" (version {_version} (chDB peer))\n";
            await WriteTextAsync(response, status, text).ConfigureAwait(false);
        }
        else
        {
            response.StatusCode = 200;
            response.Headers["X-ClickHouse-Format"] = format;
            response.ContentType = format is not null && (format.StartsWith("RowBinary", StringComparison.Ordinal) || format.StartsWith("Native", StringComparison.Ordinal) || format.Contains("Parquet", StringComparison.Ordinal) || format.Contains("Arrow", StringComparison.Ordinal))
                ? "application/octet-stream"
                : "text/plain; charset=UTF-8";
            response.ContentLength = result.Data.Length;
            await response.Body.WriteAsync(result.Data, context.RequestAborted).ConfigureAwait(false);
        }

        var info = new BridgeRequest(
            context.Request.Method,
            context.Request.Path + context.Request.QueryString,
            context.Request.Headers.ContentEncoding.ToString(),
            context.Request.Headers.ContentType.ToString(),
            sql is null ? 0 : sql.Length,
            sql is null ? "" : StatementText(sql),
            (int)status,
            result.Error);
        if (_log)
        {
            Console.Error.WriteLine($"[chdb-peer] {info.Method} {info.PathAndQuery} encoding={info.ContentEncoding} type={info.ContentType} bytes={info.SqlBytes} [{info.Statement}] -> {info.Status} {info.Error}");
        }

        RequestHandled?.Invoke(info);
    }

    private static string StatementText(byte[] sql)
    {
        var length = SplitInsertData(sql) is var (_, _, dataStart) ? dataStart : sql.Length;
        var text = Encoding.UTF8.GetString(sql, 0, Math.Min(length, 4_000)).TrimEnd();
        return text.Length > 1_000 ? text[..1_000] : text;
    }

    private static async Task WriteTextAsync(HttpResponse response, HttpStatusCode status, string text)
    {
        response.StatusCode = (int)status;
        response.ContentType = "text/plain; charset=UTF-8";
        var bytes = Encoding.UTF8.GetBytes(text);
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes).ConfigureAwait(false);
    }

    /// <summary>A ClickHouse identifier in backquotes.</summary>
    internal static string QuoteIdentifier(string name) => "`" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("`", "\\`", StringComparison.Ordinal) + "`";

    /// <summary>A ClickHouse string literal: backslash escapes for the quote, the backslash and control characters.</summary>
    internal static string QuoteString(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('\'');
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '\'' => "\\'",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\0' => "\\0",
                _ => c.ToString(),
            });
        }

        return sb.Append('\'').ToString();
    }

    // The statuses ClickHouse's HTTP handler gives errors (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), keyed by
    // the error name chDB puts at the end of its message; anything else is 500.
    private static Dictionary<string, HttpStatusCode> BuildStatusMap()
    {
        var map = new Dictionary<string, HttpStatusCode>(StringComparer.Ordinal) { ["REQUIRED_PASSWORD"] = HttpStatusCode.Unauthorized };
        foreach (var name in "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED".Split(' '))
        {
            map[name] = HttpStatusCode.Forbidden;
        }

        foreach (var name in ("BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE CANNOT_PARSE_QUOTED_STRING " +
                 "CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 " +
                 "CANNOT_PARSE_IPV6 CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN " +
                 "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE " +
                 "SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE").Split(' '))
        {
            map[name] = HttpStatusCode.BadRequest;
        }

        foreach (var name in ("UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE UNKNOWN_SETTING " +
                 "UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE").Split(' '))
        {
            map[name] = HttpStatusCode.NotFound;
        }

        map["QUERY_IS_TOO_LARGE"] = HttpStatusCode.RequestEntityTooLarge;
        map["NOT_IMPLEMENTED"] = HttpStatusCode.NotImplemented;
        map["SOCKET_TIMEOUT"] = HttpStatusCode.ServiceUnavailable;
        map["CANNOT_OPEN_FILE"] = HttpStatusCode.ServiceUnavailable;
        map["CANNOT_SCHEDULE_TASK"] = HttpStatusCode.ServiceUnavailable;
        map["HTTP_LENGTH_REQUIRED"] = HttpStatusCode.LengthRequired;
        map["TIMEOUT_EXCEEDED"] = HttpStatusCode.RequestTimeout;
        map["UNSUPPORTED_MEDIA_TYPE"] = HttpStatusCode.UnsupportedMediaType;
        return map;
    }

    // As ClickHouse's parser: after the format name, spaces and tabs, an optional CR, then the newline the data follows.
    [GeneratedRegex(@"^(?<insert>\s*INSERT\s[\s\S]*?)\s+FORMAT\s+(?<format>[A-Za-z][A-Za-z0-9_]*)[ \t\f]*\r?\n", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InsertWithData();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex SettingName();
}

/// <summary>One request the bridge answered.</summary>
/// <param name="Method">HTTP method.</param>
/// <param name="PathAndQuery">Path and URL query string as sent.</param>
/// <param name="ContentEncoding">The request's <c>Content-Encoding</c> (empty when none).</param>
/// <param name="ContentType">The request's <c>Content-Type</c>.</param>
/// <param name="SqlBytes">Bytes of the statement run (query parameter, newline and decoded body).</param>
/// <param name="Statement">The statement's text without inline data (at most 1,000 characters).</param>
/// <param name="Status">HTTP status answered.</param>
/// <param name="Error">ClickHouse's error text, or null.</param>
public sealed record BridgeRequest(string Method, string PathAndQuery, string ContentEncoding, string ContentType, int SqlBytes, string Statement, int Status, string? Error);
