using Orleans.CastIron.ClickHousePeer;

namespace Orleans.CastIron.ClickHousePeer.Tests;

/// <summary>Tests sharing one ClickHouse peer (one chDB engine and HTTP bridge per test assembly).</summary>
[CollectionDefinition(Name)]
public sealed class ClickHouseCollection : ICollectionFixture<ClickHousePeer>
{
    public const string Name = "clickhouse";
}
