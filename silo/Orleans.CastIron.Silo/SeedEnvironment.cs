namespace Orleans.CastIron.Silo;

/// <summary>
/// The seed's flat environment variables, mapped onto our configuration keys in this one place, so an existing
/// Cast Iron deployment's environment keeps working. <c>CastIron__Area__Key</c> variables work as usual besides.
/// </summary>
public static class SeedEnvironment
{
    /// <summary>Seed variable → configuration key.</summary>
    public static readonly IReadOnlyDictionary<string, string> Map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["MINIO_ETL_BUCKET"] = "CastIron:Bucket",
        ["LOG_LEVEL"] = "Logging:LogLevel:Default",
        ["CASTIRON_DATA_PATH"] = "CastIron:LocalFolder:RootPath",
        ["CASTIRON_API_KEY"] = "CastIron:Api:ApiKey",
        ["ENABLE_TIKA"] = "CastIron:MatchContentType",
        ["KAFKA_BROKER"] = "CastIron:Kafka:Broker",
        ["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = "CastIron:Kafka:TextPayloadTopic",
        ["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = "CastIron:Kafka:VideoPayloadTopic",
        ["KAFKA_TOPIC_CASTIRON_ETL_SOURCE_FILE"] = "CastIron:Kafka:SourceFileTopic",
        ["CONSUMER_GRP_STREAMING_TEXT_PAYLOAD"] = "CastIron:Kafka:TextPayloadGroup",
        ["CONSUMER_GRP_STREAMING_VIDEO_PAYLOAD"] = "CastIron:Kafka:VideoPayloadGroup",
        ["CONSUMER_GRP_ETL_SOURCE_FILE"] = "CastIron:Kafka:SourceFileGroup",
        ["KAFKA_PIZZA_TRACKER_TOPIC"] = "CastIron:Kafka:PizzaTrackerTopic",
        ["KAFKA_MAX_PARTITION_FETCH_BYTES"] = "CastIron:Kafka:MaxMessageBytes",
        ["KAFKA_MAX_POLL_RECORDS"] = "CastIron:Kafka:MaxPollRecords",
        ["MINIO_HOST"] = "CastIron:S3:Host",
        ["MINIO_PORT"] = "CastIron:S3:Port",
        ["MINIO_ROOT_USER"] = "CastIron:S3:AccessKey",
        ["MINIO_ROOT_PASSWORD"] = "CastIron:S3:SecretKey",
        ["MINIO_SECURE"] = "CastIron:S3:Secure",
        ["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"] = "CastIron:S3:NotificationArn",
        ["CASTIRON_WEBHOOK_TOKEN"] = "CastIron:Api:WebhookToken",
        ["CLICKHOUSE_HOST"] = "CastIron:ClickHouse:Host",
        ["CLICKHOUSE_PORT"] = "CastIron:ClickHouse:Port",
        ["CLICKHOUSE_USER"] = "CastIron:ClickHouse:User",
        ["CLICKHOUSE_PASSWORD"] = "CastIron:ClickHouse:Password",
        ["CLICKHOUSE_DATABASE"] = "CastIron:ClickHouse:Database",
        ["USER_SYSTEM_DEFAULT_CLASSIFICATION"] = "CastIron:ClickHouse:DefaultClassification",
        ["CASTIRON_REDIS"] = "CastIron:Cluster:Redis",
        ["CASTIRON_CLUSTER_ID"] = "CastIron:Cluster:ClusterId",
        ["CASTIRON_SERVICE_ID"] = "CastIron:Cluster:ServiceId",
        ["CASTIRON_ADVERTISED_ADDRESS"] = "CastIron:Cluster:AdvertisedAddress",
        ["CASTIRON_SILO_PORT"] = "CastIron:Cluster:SiloPort",
        ["CASTIRON_GATEWAY_PORT"] = "CastIron:Cluster:GatewayPort",
    };

    /// <summary>The seed's variables that mean nothing here, and why (a warning at start when one is set).</summary>
    public static readonly IReadOnlyDictionary<string, string> NotApplicable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["KAFKA_MAX_POLL_INTERVAL_MS"] = "partitions are assigned, not balanced by a consumer group, so no poll deadline can take them away; a slow payload handler is bounded by CastIron:Kafka:HandlerTimeout instead",
        ["KAFKA_ENABLE_AUTO_COMMIT"] = "offsets are committed only for records delivered or dead-lettered, never automatically (at-least-once, nothing skipped)",
    };

    /// <summary>A warning for each <see cref="NotApplicable"/> variable that is set.</summary>
    public static IEnumerable<string> NotApplicableWarnings(IDictionary<string, string?>? environment = null)
    {
        var source = environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, why) in NotApplicable)
        {
            if (source.TryGetValue(variable, out var value) && !string.IsNullOrWhiteSpace(value) && !string.Equals(value.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase))
            {
                yield return $"{variable}={value} is ignored: {why}";
            }
        }
    }

    /// <summary>Variables whose empty value is meaningful (an empty ARN turns registration off).</summary>
    private static readonly HashSet<string> EmptyAllowed = new(StringComparer.OrdinalIgnoreCase) { "MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE" };

    /// <summary>Adds the mapped values of the variables that are set.</summary>
    public static IConfigurationBuilder AddSeedEnvironment(this IConfigurationBuilder builder, IDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var source = environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, key) in Map)
        {
            if (!source.TryGetValue(variable, out var value) || value is null)
            {
                continue;
            }

            // The seed's "UNSET" sentinel (B-20) means not set, as an empty value does.
            if (string.Equals(value.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase) || (value.Length == 0 && !EmptyAllowed.Contains(variable)))
            {
                continue;
            }

            values[key] = key switch
            {
                "Logging:LogLevel:Default" => NormalizeLogLevel(variable, value),
                "CastIron:S3:Secure" or "CastIron:MatchContentType" => NormalizeFlag(variable, value),
                _ => value,
            };
        }

        return builder.AddInMemoryCollection(values);
    }

    // The seed's settings (Pydantic v1) took exactly these, in any case; anything else is a clear start-up error.
    private static string NormalizeFlag(string variable, string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" or "t" or "y" => "true",
        "false" or "0" or "no" or "off" or "f" or "n" => "false",
        _ => throw new InvalidSettingException($"{variable}='{value}' is not true or false (use true/false, 1/0, yes/no, on/off, t/f or y/n)"),
    };

    // The seed took "info", "debug", ... (Python names); an unknown level is a clear start-up error, not a crash later (B-20).
    private static string NormalizeLogLevel(string variable, string value) => value.Trim().ToLowerInvariant() switch
    {
        "trace" => "Trace",
        "debug" => "Debug",
        "info" or "information" => "Information",
        "warn" or "warning" => "Warning",
        "error" => "Error",
        "critical" or "fatal" => "Critical",
        "none" => "None",
        _ => throw new InvalidSettingException($"{variable}='{value}' is not a log level (use trace, debug, info, warning, error, critical or none)"),
    };
}

/// <summary>A setting that cannot be used; the message names it and what would be accepted.</summary>
public sealed class InvalidSettingException(string message) : InvalidOperationException(message);
