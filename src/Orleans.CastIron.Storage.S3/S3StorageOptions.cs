namespace Orleans.CastIron.Storage.S3;

/// <summary>
/// Settings of the S3 / MinIO object store (section <c>CastIron:S3</c>). The seed's variables map onto them:
/// <c>MINIO_HOST</c>, <c>MINIO_PORT</c>, <c>MINIO_ROOT_USER</c>, <c>MINIO_ROOT_PASSWORD</c>, <c>MINIO_SECURE</c>,
/// <c>MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE</c>.
/// </summary>
public sealed class S3StorageOptions
{
    /// <summary>The section these settings are bound from.</summary>
    public const string Section = "CastIron:S3";

    /// <summary>The id of the bucket-notification configuration this service adds (the seed's).</summary>
    public const string NotificationId = "etl_file_upload_notification";

    /// <summary>
    /// <c>MINIO_HOST</c>: the server's host name. Set, not empty and not <c>UNSET</c> selects the S3 store; a
    /// <c>host:port</c> value (older seed recipes) also sets the port.
    /// </summary>
    public string Host { get; set; } = "";

    /// <summary><c>MINIO_PORT</c>: the server's port. Required with a host (unless the host carries it).</summary>
    public int? Port { get; set; }

    /// <summary><c>MINIO_ROOT_USER</c>: the access key.</summary>
    public string AccessKey { get; set; } = "";

    /// <summary><c>MINIO_ROOT_PASSWORD</c>: the secret key.</summary>
    public string SecretKey { get; set; } = "";

    /// <summary><c>MINIO_SECURE</c>: TLS to the server. Default off, as in the seed.</summary>
    public bool Secure { get; set; }

    /// <summary>The region requests are signed for. Default <c>us-east-1</c> (what MinIO and Ceph expect unless told otherwise).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>
    /// <c>MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE</c>: the notification target attached to the bucket at start (the
    /// seed's <c>arn:minio:sqs::source:kafka</c> by default: MinIO's Kafka target <c>source</c>). An SQS-style ARN is
    /// added as a queue configuration, an SNS-style ARN (<c>arn:aws:sns:...</c>, e.g. a Ceph topic) as a topic
    /// configuration. Empty: nothing is registered and intake relies on what the operator configured.
    /// </summary>
    public string NotificationArn { get; set; } = "arn:minio:sqs::source:kafka";

    /// <summary>Attempts per request before a transient error (5xx, throttling, network) is reported. Default 6.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>First retry delay; doubled per attempt with jitter, up to <see cref="RetryMaxDelay"/>. Default 100 ms.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest delay between two attempts. Default 5 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a request without content (stat, delete, list, bucket calls) may take before it is abandoned and retried. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an upload, a server-side copy or the opening of a download may take before it is abandoned and retried. Default 30 minutes.</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often an unreachable server is tried again at start, with a log line per attempt. Default 5 s.</summary>
    public TimeSpan StartupRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often registered inboxes are listed for files no notification announced (unless
    /// <c>CastIron:ReconcileInterval</c> says otherwise). Default 1 minute.
    /// </summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Notifications queued between the webhook and intake; when full the webhook answers 503 and the sender retries. Default 10,000.</summary>
    public int EventQueueCapacity { get; set; } = 10_000;

    /// <summary>Queued notifications handed to intake at once. Default 16.</summary>
    public int EventDeliveryParallelism { get; set; } = 16;

    /// <summary>True when a host is configured: the S3 store replaces the folder store.</summary>
    public bool Enabled => IsSet(Host);

    /// <summary>The host without a port.</summary>
    public string HostName => SplitHost().Host;

    /// <summary>The port: <see cref="Port"/>, else the one in <see cref="Host"/>.</summary>
    public int? EffectivePort => Port ?? SplitHost().Port;

    /// <summary><c>http(s)://host:port</c>, for messages.</summary>
    public string Endpoint => $"{(Secure ? "https" : "http")}://{HostName}:{EffectivePort}";

    /// <summary>The ARN to register, or null when registration is off.</summary>
    public string? EffectiveNotificationArn => IsSet(NotificationArn) ? NotificationArn.Trim() : null;

    /// <summary>Checks the settings (only when the store is enabled); names the seed variable of each problem.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            yield break;
        }

        var (host, hostPort) = SplitHost();
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or '?' or '#' or '@' or ':'))
        {
            yield return $"MINIO_HOST (CastIron:S3:Host) '{Host}' is not a host name: give the name or address only, e.g. 'minio' or 'minio:9000'";
        }

        if (Port is { } port && hostPort is { } inHost && port != inHost)
        {
            yield return $"MINIO_HOST (CastIron:S3:Host) '{Host}' names port {inHost} but MINIO_PORT (CastIron:S3:Port) is {port}: give one";
        }

        if (Port is null && hostPort is null)
        {
            yield return "MINIO_PORT (CastIron:S3:Port) must be set when MINIO_HOST is set (e.g. 9000)";
        }
        else if (EffectivePort is < 1 or > 65535)
        {
            yield return $"MINIO_PORT (CastIron:S3:Port) {EffectivePort} is not a TCP port (1-65535)";
        }

        if (!IsSet(AccessKey))
        {
            yield return "MINIO_ROOT_USER (CastIron:S3:AccessKey) must be set when MINIO_HOST is set";
        }

        if (!IsSet(SecretKey))
        {
            yield return "MINIO_ROOT_PASSWORD (CastIron:S3:SecretKey) must be set when MINIO_HOST is set";
        }

        if (EffectiveNotificationArn is { } arn && !arn.StartsWith("arn:", StringComparison.Ordinal))
        {
            yield return $"MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE (CastIron:S3:NotificationArn) '{arn}' is not an ARN (e.g. arn:minio:sqs::source:kafka); leave it empty to register nothing";
        }

        if (MaxAttempts is < 1 or > 100)
        {
            yield return "CastIron:S3:MaxAttempts must be between 1 and 100";
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            yield return "CastIron:S3:RetryBaseDelay must be positive and CastIron:S3:RetryMaxDelay at least as long";
        }

        if (EventQueueCapacity < 1 || EventDeliveryParallelism < 1)
        {
            yield return "CastIron:S3:EventQueueCapacity and CastIron:S3:EventDeliveryParallelism must be at least 1";
        }

        if (RequestTimeout <= TimeSpan.Zero || TransferTimeout <= TimeSpan.Zero || StartupRetryInterval <= TimeSpan.Zero || ReconcileInterval < TimeSpan.Zero)
        {
            yield return "CastIron:S3:RequestTimeout, TransferTimeout and StartupRetryInterval must be positive, CastIron:S3:ReconcileInterval not negative";
        }
    }

    private static bool IsSet(string? value) =>
        !string.IsNullOrWhiteSpace(value) && !string.Equals(value.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase);

    private (string Host, int? Port) SplitHost()
    {
        var host = Host.Trim();
        var colon = host.LastIndexOf(':');
        // "minio:9000" (older recipes put the port in MINIO_HOST); "::1" style addresses need brackets as usual.
        if (colon > 0 && host.IndexOf(':', StringComparison.Ordinal) == colon && int.TryParse(host[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port))
        {
            return (host[..colon], port);
        }

        return (host, null);
    }
}
