using Orleans.CastIron.Tests;
using Orleans.TestingHost;

namespace Orleans.CastIron.Streaming.Kafka.Tests;

/// <summary>Changes the current directory for a moment, so it runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CurrentDirectoryCollection
{
    public const string Name = "current-directory";
}

[Collection(CurrentDirectoryCollection.Name)]
public class TestClusterLogsTests
{
    [Fact]
    public async Task ClusterLogs_GoUnderTheBuildOutput_NotTheCurrentDirectory()
    {
        var elsewhere = Path.Combine(Path.GetTempPath(), "castiron-cwd-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(elsewhere);
        var original = Environment.CurrentDirectory;
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        try
        {
            // As when the tests are started from the repository root.
            Environment.CurrentDirectory = elsewhere;
            var cluster = builder.Build();
            await cluster.DeployAsync();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
        finally
        {
            Environment.CurrentDirectory = original;
        }

        Assert.False(Directory.Exists(Path.Combine(elsewhere, "logs")));
        Assert.NotEmpty(Directory.GetFiles(TestClusterLogs.Folder, builder.Options.ClusterId + "_*.log"));
        Directory.Delete(elsewhere, recursive: true);
    }
}
