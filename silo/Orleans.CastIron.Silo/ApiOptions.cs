namespace Orleans.CastIron.Silo;

/// <summary>REST API settings (section <c>CastIron:Api</c>).</summary>
public sealed class ApiOptions
{
    /// <summary>
    /// When set, every route that changes something (cancel, retry, start/stop consumers) and config validation
    /// require this value in the <c>X-Api-Key</c> header. Reading routes stay open. Default: none.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// <c>CASTIRON_WEBHOOK_TOKEN</c>: the token S3 servers send with bucket notifications to <c>POST /events/s3</c>
    /// (MinIO's <c>MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN</c> as <c>Authorization: Bearer</c>, or <c>?token=</c> in the
    /// endpoint URL for servers that cannot send headers, e.g. Ceph topics). Unset: the webhook is off.
    /// </summary>
    public string? WebhookToken { get; set; }

    /// <summary>Largest notification body accepted by the webhook, in bytes. Default 1 MiB.</summary>
    public int MaxEventBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxEventBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            yield return "CastIron:Api:MaxEventBodyBytes must be between 1024 and 67108864";
        }
    }

    /// <summary>Header carrying the key.</summary>
    public const string HeaderName = "X-Api-Key";
}
