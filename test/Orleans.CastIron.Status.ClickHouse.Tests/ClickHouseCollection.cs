namespace Orleans.CastIron.Status.ClickHouse.Tests;

/// <summary>Tests sharing one ClickHouse peer (chDB behind ClickHouse's HTTP interface, or <c>CLICKHOUSE_URL</c>).</summary>
[CollectionDefinition(Name)]
public sealed class ClickHouseCollection : ICollectionFixture<Orleans.CastIron.ClickHousePeer.ClickHousePeer>
{
    public const string Name = "clickhouse";
}
