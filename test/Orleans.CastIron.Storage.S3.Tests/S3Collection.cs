namespace Orleans.CastIron.Storage.S3.Tests;

/// <summary>Tests sharing one S3 peer (one RADOS Gateway per test assembly).</summary>
[CollectionDefinition(Name)]
public sealed class S3Collection : ICollectionFixture<S3Peer>
{
    public const string Name = "s3";
}
