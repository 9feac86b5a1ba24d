using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>Which payload stream a message belongs to.</summary>
public enum PayloadKind
{
    /// <summary><c>castiron_text_payload</c>.</summary>
    Text,

    /// <summary><c>castiron_video_payload</c>.</summary>
    Video,
}

/// <summary>What became of a payload message a client sent.</summary>
[GenerateSerializer, Immutable, Alias("castiron.PayloadSendResult")]
public sealed record PayloadSendResult
{
    /// <summary>Where it was produced, <c>topic/partition@offset</c>, when it went to Kafka (its handler runs from there).</summary>
    [Id(0)] public string? SentTo { get; init; }

    /// <summary>True when its handler ran and returned (the message was handled in the cluster, not sent to Kafka).</summary>
    [Id(1)] public bool Handled { get; init; }

    /// <summary>Why it was not handled: a malformed message, no such handler, or the handler's failure.</summary>
    [Id(2)] public string? Problem { get; init; }
}
