using System.Diagnostics;
using System.Text;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The silo as a real process (<c>dotnet Orleans.CastIron.Silo.dll</c>, with the shipped <c>appsettings.json</c>
/// beside it), started in its own working folder with only the listed arguments: no settings or log levels from the
/// test's environment reach it. Its stdout and stderr are kept.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private readonly bool _ownsFolder;

    private SiloProcess(string workingDirectory, IEnumerable<string> arguments, bool ownsFolder, IReadOnlyDictionary<string, string>? environment)
    {
        WorkingDirectory = workingDirectory;
        _ownsFolder = ownsFolder;
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Orleans.CastIron.Silo.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // As a user's shell would start it: none of our settings, seed variables or log levels from the test run.
        foreach (var name in start.Environment.Keys.ToList())
        {
            if (SeedEnvironment.Map.ContainsKey(name) || name.StartsWith("CastIron__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || name.EndsWith("_ENVIRONMENT", StringComparison.Ordinal))
            {
                start.Environment.Remove(name);
            }
        }

        // What the test sets on purpose (e.g. the seed's MINIO_* variables), as a deployment would.
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string WorkingDirectory { get; }

    /// <summary>The REST API of this silo.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The Orleans gateway port clients connect to.</summary>
    public int GatewayPort { get; private set; }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// The variables that put a silo into cluster <paramref name="cluster"/> (its cluster and service id) on Redis
    /// <paramref name="redis"/>, advertising loopback so silos on this machine reach each other.
    /// </summary>
    public static Dictionary<string, string> ClusterVariables(string redis, string cluster) => new()
    {
        ["CASTIRON_REDIS"] = redis,
        ["CASTIRON_CLUSTER_ID"] = cluster,
        ["CASTIRON_SERVICE_ID"] = cluster,
        ["CASTIRON_ADVERTISED_ADDRESS"] = "127.0.0.1",
    };

    /// <summary>Starts the silo in a new temporary folder (removed on dispose), on free ports.</summary>
    public static SiloProcess Start(params string[] arguments)
    {
        var folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return StartIn(folder, ownsFolder: true, arguments);
    }

    /// <summary>Starts the silo in <paramref name="folder"/> (kept on dispose, e.g. for restarts), on free ports.</summary>
    public static SiloProcess StartIn(string folder, bool ownsFolder, params string[] arguments) =>
        StartWith(folder, ownsFolder, null, null, arguments);

    /// <summary>
    /// Starts the silo in <paramref name="folder"/> with <paramref name="environment"/> set, its API on
    /// <paramref name="port"/> (or a free one), other ports free.
    /// </summary>
    public static SiloProcess StartWith(string folder, bool ownsFolder, IReadOnlyDictionary<string, string>? environment, int? port, params string[] arguments)
    {
        Directory.CreateDirectory(folder);
        port ??= SiloFixture.FreePort();
        var gateway = SiloFixture.FreePort();
        var silo = new SiloProcess(folder,
        [
            "--urls", $"http://127.0.0.1:{port}",
            $"--CastIron:Cluster:SiloPort={SiloFixture.FreePort()}",
            $"--CastIron:Cluster:GatewayPort={gateway}",
            .. arguments,
        ], ownsFolder, environment);
        silo.Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        silo.GatewayPort = gateway;
        return silo;
    }

    /// <summary>Stops the silo with SIGTERM, or SIGKILL for it and its children, and returns its exit code.</summary>
    public async Task<int> StopAsync(bool kill)
    {
        if (!_process.HasExited)
        {
            if (kill)
            {
                _process.Kill(entireProcessTree: true);
            }
            else
            {
                using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await term.WaitForExitAsync();
            }
        }

        return await WaitForExitAsync(TimeSpan.FromSeconds(90));
    }

    /// <summary>Waits until stdout satisfies <paramref name="condition"/>; fails with the output so far.</summary>
    public async Task WaitForStdoutAsync(Func<string, bool> condition, string describe, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!condition(Stdout))
        {
            if (_process.HasExited)
            {
                Assert.Fail($"the silo exited ({_process.ExitCode}) before {describe}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {describe}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the process to end on its own and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http?.Dispose();
        if (!_ownsFolder)
        {
            return;
        }

        try
        {
            Directory.Delete(WorkingDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is not null)
        {
            lock (buffer)
            {
                buffer.Append(line).Append('\n');
            }
        }
    }
}
