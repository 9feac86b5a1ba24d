using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Orleans.CastIron.Redis.Tests;

/// <summary>
/// The Redis peer for tests: the server named by <c>REDIS_CONNECTION_STRING</c> when set, otherwise Debian's
/// <c>redis-server</c> started on a free loopback port with nothing persisted, stopped on dispose.
/// </summary>
public sealed class RedisPeer : IDisposable
{
    private readonly Process? _server;

    public RedisPeer()
        : this(null)
    {
    }

    // One public constructor: xunit builds collection fixtures through it.
    private RedisPeer(int? port)
    {
        var external = port is null ? Environment.GetEnvironmentVariable("REDIS_CONNECTION_STRING") : null;
        if (!string.IsNullOrWhiteSpace(external))
        {
            ConnectionString = external;
        }
        else
        {
            port ??= FreePort();
            var start = new ProcessStartInfo("redis-server")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "--port", port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Path.GetTempPath() })
            {
                start.ArgumentList.Add(argument);
            }

            try
            {
                _server = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException("redis-server is not installed (.ci/run installs Debian's redis-server), and REDIS_CONNECTION_STRING names no server", ex);
            }

            _server.OutputDataReceived += (_, _) => { };
            _server.BeginOutputReadLine();
            _server.BeginErrorReadLine();
            ConnectionString = $"127.0.0.1:{port}";
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = ConnectionMultiplexer.Connect(ConnectionString);
                probe.GetDatabase().Ping();
                break;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }

        Connection = ConnectionMultiplexer.Connect(ConnectionString);
    }

    /// <summary>A redis-server of its own on <paramref name="port"/>, whatever REDIS_CONNECTION_STRING says.</summary>
    public static RedisPeer OnPort(int port) => new(port);

    public string ConnectionString { get; }

    public IConnectionMultiplexer Connection { get; }

    public void Dispose()
    {
        Connection.Dispose();
        if (_server is { HasExited: false })
        {
            _server.Kill();
            _server.WaitForExit(5000);
        }

        _server?.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisPeer>
{
    public const string Name = "redis";
}
