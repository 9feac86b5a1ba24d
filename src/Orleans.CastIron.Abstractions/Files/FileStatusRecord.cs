namespace Orleans.CastIron.Files;

/// <summary>One status change of a file, with when it happened.</summary>
/// <param name="Status">The status entered.</param>
/// <param name="At">When (UTC).</param>
/// <param name="Reason">Why, for failures, cancellations and retries.</param>
[GenerateSerializer, Immutable, Alias("castiron.StatusTransition")]
public sealed record StatusTransition(
    [property: Id(0)] FileStatus Status,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string? Reason = null);

/// <summary>
/// The tracked status of one file, as kept by status stores and returned by the API. Field names follow the seed's
/// status table (<c>id</c>, <c>bucket_name</c>, <c>file_name</c>, <c>status</c>, <c>original_filename</c>, ...).
/// </summary>
[GenerateSerializer, Immutable, Alias("castiron.FileStatusRecord")]
public sealed record FileStatusRecord
{
    /// <summary>The file id (the uuid prefix of the renamed file).</summary>
    [Id(0)] public string Id { get; init; } = "";

    /// <summary>The bucket.</summary>
    [Id(1)] public string BucketName { get; init; } = "";

    /// <summary>The file's current object key.</summary>
    [Id(2)] public string FileName { get; init; } = "";

    /// <summary>The current status.</summary>
    [Id(3)] public FileStatus Status { get; init; }

    /// <summary>The name the file was dropped with.</summary>
    [Id(4)] public string OriginalFilename { get; init; } = "";

    /// <summary>The file's key in its inbox (<c>&lt;folder&gt;/&lt;id&gt;-&lt;name&gt;</c>): stage keys are derived from it and a retry puts the file back there.</summary>
    [Id(5)] public string JobKey { get; init; } = "";

    /// <summary>The current or last job id.</summary>
    [Id(6)] public string? JobId { get; init; }

    /// <summary>The config that took the file.</summary>
    [Id(7)] public string? ConfigKey { get; init; }

    /// <summary>Attempts of the current job whose processor started (an attempt waiting for a slot is not one).</summary>
    [Id(8)] public int Attempts { get; init; }

    /// <summary>Attempts of the current job lost to a silo stop or crash; they are run again and do not count as attempts.</summary>
    [Id(17)] public int Interruptions { get; init; }

    /// <summary>Why the file is Failed or Canceled.</summary>
    [Id(9)] public string? Reason { get; init; }

    /// <summary>The error-log object, when one was written.</summary>
    [Id(10)] public string? ErrorLogKey { get; init; }

    /// <summary>Size in bytes at intake.</summary>
    [Id(11)] public long? Size { get; init; }

    /// <summary>Content type at intake.</summary>
    [Id(12)] public string? ContentType { get; init; }

    /// <summary>The uploader's user metadata.</summary>
    [Id(13)] public ImmutableDictionary<string, string> Metadata { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>When the file was first tracked (UTC).</summary>
    [Id(14)] public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the record last changed (UTC).</summary>
    [Id(15)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Every status change in order.</summary>
    [Id(16)] public ImmutableArray<StatusTransition> Transitions { get; init; } = [];
}
