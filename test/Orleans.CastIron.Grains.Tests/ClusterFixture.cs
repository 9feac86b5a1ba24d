using Orleans.CastIron.Tests;
using Orleans.TestingHost;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>One in-process cluster shared by the tests of a collection; tests use distinct grain keys.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; } = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput().Build();

    public IClusterClient Client => Cluster.Client;

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
