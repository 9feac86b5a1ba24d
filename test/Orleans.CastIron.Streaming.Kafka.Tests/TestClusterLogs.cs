using Orleans.TestingHost;
using Orleans.TestingHost.Utils;

namespace Orleans.CastIron.Tests;

/// <summary>Where in-process test clusters write their log files.</summary>
public static class TestClusterLogs
{
    /// <summary>The folder: under the build output, whatever folder the tests were started from.</summary>
    public static string Folder { get; } = Path.Combine(AppContext.BaseDirectory, "logs");

    /// <summary>
    /// Writes the cluster's log files to <see cref="Folder"/>. Orleans' own file logging writes to a relative
    /// <c>logs</c> folder, so a run started from the repository root filled the repository with logs.
    /// </summary>
    public static InProcessTestClusterBuilder WithLogsInBuildOutput(this InProcessTestClusterBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Options.ConfigureFileLogging = false;
        Directory.CreateDirectory(Folder);
        builder.ConfigureSiloHost((silo, host) =>
            TestingUtils.ConfigureDefaultLoggingBuilder(host.Logging, Path.Combine(Folder, $"{builder.Options.ClusterId}_{silo.SiloName}.log")));
        builder.ConfigureClientHost(host =>
            TestingUtils.ConfigureDefaultLoggingBuilder(host.Logging, Path.Combine(Folder, $"{builder.Options.ClusterId}_client.log")));
        return builder;
    }
}
