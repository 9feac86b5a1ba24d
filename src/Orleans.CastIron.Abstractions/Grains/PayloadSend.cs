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

    /// <summary>True when its handler ran and returned (known only when the outcome was awaited, or it was handled in the cluster directly).</summary>
    [Id(1)] public bool Handled { get; init; }

    /// <summary>
    /// Why it was not handled: a malformed message, no such handler, the handler's failure or deadline (the message
    /// was dead-lettered when it came from Kafka), or no outcome within the time the sender waited.
    /// </summary>
    [Id(2)] public string? Problem { get; init; }

    /// <summary>
    /// When the outcome of a message produced to Kafka is awaited: the id its record carries in the
    /// <see cref="PayloadOutcomes.RequestIdHeader"/> header, under which the consumer that finishes it reports how it went.
    /// </summary>
    [Id(3)] public string? RequestId { get; init; }

    /// <summary>Where its handler ran, when known: the record (<c>topic/partition@offset</c>, when it came from Kafka) and the silo.</summary>
    [Id(4)] public string? HandledAt { get; init; }
}

/// <summary>How the handler of an awaited payload message ended, as its consumer reports it.</summary>
[GenerateSerializer, Immutable, Alias("castiron.PayloadOutcome")]
public sealed record PayloadOutcome
{
    /// <summary>True when the handler ran and returned.</summary>
    [Id(0)] public bool Handled { get; init; }

    /// <summary>Why not (the message was dead-lettered with this reason).</summary>
    [Id(1)] public string? Problem { get; init; }

    /// <summary>Where it ran: the record and the silo.</summary>
    [Id(2)] public string HandledAt { get; init; } = "";
}

/// <summary>Awaiting the outcome of payload messages sent through Kafka.</summary>
public static class PayloadOutcomes
{
    /// <summary>
    /// The Kafka header naming the request whose outcome a sender awaits (the message's JSON stays exactly the seed's).
    /// Records without it (every producer but a waiting client) report nothing.
    /// </summary>
    public const string RequestIdHeader = "castiron-request-id";

    /// <summary>A new request id: 32 lower-case hex digits.</summary>
    public static string NewRequestId() => Guid.NewGuid().ToString("N");

    /// <summary>True for what <see cref="NewRequestId"/> makes; a header holding anything else is ignored.</summary>
    public static bool IsRequestId(string value) =>
        value is { Length: 32 } && value.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}

/// <summary>
/// The outcome of one awaited payload message, keyed by its request id. Held in memory for a while after it is
/// reported: the sender waits from the moment the record is produced, so the outcome is asked for long before it is
/// forgotten. The first report stands; a redelivery's later one (at-least-once) changes nothing.
/// </summary>
public interface IPayloadOutcomeGrain : IGrainWithStringKey
{
    /// <summary>Records how the handler ended (called by the consumer that finished the record).</summary>
    [Alias("Report")]
    Task ReportAsync(PayloadOutcome outcome);

    /// <summary>The outcome, waiting up to <paramref name="wait"/> (at most 30 s) for it; null when none came in that time.</summary>
    [Alias("Wait"), AlwaysInterleave]
    Task<PayloadOutcome?> WaitAsync(TimeSpan wait);
}
