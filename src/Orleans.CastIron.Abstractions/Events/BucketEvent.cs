namespace Orleans.CastIron.Events;

/// <summary>Whether an object appeared (put, copy, multipart completion) or went away.</summary>
public enum BucketEventKind
{
    /// <summary>Any <c>s3:ObjectCreated:*</c> event.</summary>
    Created,

    /// <summary>Any <c>s3:ObjectRemoved:*</c> event.</summary>
    Removed,
}

/// <summary>A bucket notification reduced to what the workflow needs (seed-spec F-04).</summary>
[GenerateSerializer, Immutable, Alias("castiron.BucketEvent")]
public sealed record BucketEvent
{
    /// <summary>The raw event name, e.g. <c>s3:ObjectCreated:Put</c>.</summary>
    [Id(0)] public string EventName { get; init; } = "";

    /// <summary>Created or removed.</summary>
    [Id(1)] public BucketEventKind Kind { get; init; }

    /// <summary>The bucket name.</summary>
    [Id(2)] public string Bucket { get; init; } = "";

    /// <summary>The decoded object key inside the bucket.</summary>
    [Id(3)] public string Key { get; init; } = "";

    /// <summary>Object size in bytes, when reported.</summary>
    [Id(4)] public long? Size { get; init; }

    /// <summary>ETag without quotes, when reported.</summary>
    [Id(5)] public string? ETag { get; init; }

    /// <summary>Content type, when reported.</summary>
    [Id(6)] public string? ContentType { get; init; }

    /// <summary>
    /// User metadata with the <c>X-Amz-Meta-</c> prefix removed and keys lower-cased
    /// (e.g. <c>originalfilename</c>, <c>id</c>, <c>status</c>), whatever casing the producer used.
    /// </summary>
    [Id(7)] public ImmutableDictionary<string, string> UserMetadata { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>The uploader's address (<c>requestParameters.sourceIPAddress</c>), when reported.</summary>
    [Id(8)] public string? SourceIpAddress { get; init; }

    /// <summary>The object-store sequencer or version, when reported; helps tell events for the same key apart.</summary>
    [Id(9)] public string? Sequencer { get; init; }

    /// <summary><c>bucket/key</c>: the identity MinIO uses as Kafka record key, and our FileJob grain key.</summary>
    public string ObjectId => $"{Bucket}/{Key}";
}
