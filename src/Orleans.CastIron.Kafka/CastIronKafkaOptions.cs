namespace Orleans.CastIron.Kafka;

/// <summary>
/// The seed's Kafka settings (seed-spec F-01, F-27), names and defaults kept (section <c>CastIron:Kafka</c>;
/// <c>KAFKA_BROKER</c> and the seed's topic and group variables map onto it).
/// </summary>
public sealed class CastIronKafkaOptions
{
    /// <summary>The stream provider name used by the payload grains.</summary>
    public const string StreamProvider = "kafka";

    /// <summary><c>KAFKA_BROKER</c>: bootstrap servers. Empty or <c>UNSET</c> leaves Kafka off.</summary>
    public string Broker { get; set; } = "";

    public string TextPayloadTopic { get; set; } = "castiron_text_payload";

    public string TextPayloadGroup { get; set; } = "streaming-text-playload-grp";

    public string VideoPayloadTopic { get; set; } = "castiron_video_payload";

    public string VideoPayloadGroup { get; set; } = "streaming-video-playload-grp";

    public string PizzaTrackerTopic { get; set; } = "pizza-tracker";

    public string SourceFileTopic { get; set; } = "castiron_etl_source_file";

    public string SourceFileGroup { get; set; } = "etl-source-file-grp";

    /// <summary>
    /// Take bucket notifications (MinIO's Kafka target) from <see cref="SourceFileTopic"/>. Unset: on with the S3
    /// store, off with the folder store (it has its own watcher).
    /// </summary>
    public bool? BucketNotifications { get; set; }

    /// <summary>Largest payload, in bytes (the seed's <c>kafka_max_partition_fetch_bytes</c>). Default 20 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary><c>KAFKA_MAX_POLL_RECORDS</c>: most records read from a queue at a time. Default 1000.</summary>
    public int MaxPollRecords { get; set; } = 1000;

    /// <summary>
    /// How long a consumer waits for a record's handler (payload handler, bucket-notification intake). At the
    /// deadline the handler's token is cancelled, the record is dead-lettered as timed out and consumption goes on.
    /// Must be shorter than Orleans' response timeout (<c>SiloMessagingOptions.ResponseTimeout</c>, 30 s by default),
    /// past which the stream's pulling agent delivers the record again. Default 20 s.
    /// </summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>librdkafka settings for every client (security and the like).</summary>
    public Dictionary<string, string> ClientSettings { get; set; } = [];

    /// <summary>True when a broker is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Broker) && !string.Equals(Broker, "UNSET", StringComparison.OrdinalIgnoreCase);
}
