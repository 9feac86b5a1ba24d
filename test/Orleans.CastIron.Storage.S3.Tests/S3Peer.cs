using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Orleans.CastIron.Storage.S3.Tests;

/// <summary>
/// The S3 peer for integration tests: the server named by <c>S3_ENDPOINT</c> (with <c>S3_ACCESS_KEY</c> and
/// <c>S3_SECRET_KEY</c>) when set, e.g. a real MinIO; otherwise a throwaway single-node Ceph RADOS Gateway on loopback,
/// started by the project's own <c>test/infra/s3/start-rgw.sh</c> (which apt-installs Ceph when missing) and stopped
/// when the tests end.
/// </summary>
public sealed class S3Peer : IDisposable
{
    private readonly string? _dataDir;

    public S3Peer()
    {
        var external = Environment.GetEnvironmentVariable("S3_ENDPOINT");
        if (!string.IsNullOrWhiteSpace(external))
        {
            Endpoint = new Uri(external);
            AccessKey = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new InvalidOperationException("S3_ENDPOINT is set: set S3_ACCESS_KEY too");
            SecretKey = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new InvalidOperationException("S3_ENDPOINT is set: set S3_SECRET_KEY too");
            IsCeph = false;
            return;
        }

        _dataDir = Path.Combine(Path.GetTempPath(), "castiron-rgw-" + Guid.NewGuid().ToString("N")[..12]);
        var rgwPort = FreePort();
        var monPort = FreePort();
        var output = Run("start-rgw.sh", ["--install", _dataDir], new() { ["RGW_PORT"] = $"{rgwPort}", ["CEPH_MON_PORT"] = $"{monPort}" });
        var values = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim());
        Endpoint = new Uri(values["S3_ENDPOINT"]);
        AccessKey = values["S3_ACCESS_KEY"];
        SecretKey = values["S3_SECRET_KEY"];
        IsCeph = true;
    }

    public Uri Endpoint { get; }

    public string AccessKey { get; }

    public string SecretKey { get; }

    /// <summary>True for the RADOS Gateway this fixture started (it can push notifications to an HTTP endpoint).</summary>
    public bool IsCeph { get; }

    /// <summary>Settings for a store talking to this peer.</summary>
    public S3StorageOptions Options(Action<S3StorageOptions>? configure = null)
    {
        var options = new S3StorageOptions
        {
            Host = Endpoint.Host,
            Port = Endpoint.Port,
            Secure = Endpoint.Scheme == "https",
            AccessKey = AccessKey,
            SecretKey = SecretKey,
            NotificationArn = "",
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The seed's variables pointing a silo at this peer.</summary>
    public Dictionary<string, string> SeedVariables() => new()
    {
        ["MINIO_HOST"] = Endpoint.Host,
        ["MINIO_PORT"] = $"{Endpoint.Port}",
        ["MINIO_ROOT_USER"] = AccessKey,
        ["MINIO_ROOT_PASSWORD"] = SecretKey,
        ["MINIO_SECURE"] = Endpoint.Scheme == "https" ? "true" : "false",
    };

    /// <summary>Creates a Ceph notification topic pushing to <paramref name="pushUrl"/>; returns its ARN.</summary>
    public string CreateTopic(string name, string pushUrl, bool persistent = false)
    {
        if (!IsCeph)
        {
            throw new InvalidOperationException("topics with a push endpoint are Ceph's; this peer is another S3 server");
        }

        return Run("rgw-topic.sh", [name, pushUrl, persistent ? "true" : "false"], new()
        {
            ["S3_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
            ["S3_ACCESS_KEY"] = AccessKey,
            ["S3_SECRET_KEY"] = SecretKey,
        }).Trim();
    }

    public static string NewBucket(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (_dataDir is not null)
        {
            Run("stop-rgw.sh", ["--fast", "--purge", _dataDir], []);
        }
    }

    private static string Run(string script, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "infra", "s3", script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{script} did not finish in 10 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {stderr.Result}");
        }

        return stdout;
    }
}
