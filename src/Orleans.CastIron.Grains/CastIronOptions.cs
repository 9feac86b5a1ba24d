namespace Orleans.CastIron.Grains;

/// <summary>Workflow settings (section <c>CastIron</c>).</summary>
public sealed class CastIronOptions
{
    /// <summary>The bucket watched (the seed's <c>minio_etl_bucket</c>). Default <c>etl</c>.</summary>
    public string Bucket { get; set; } = "etl";

    /// <summary>How often queued and processing files are looked at again, to pick up what a crash or a lost event left behind. Default 30 s.</summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Match files by content type too (<c>handled_mimetypes</c>, tried before the pattern, as the seed did with
    /// <c>ENABLE_TIKA</c>). The content type is the object's own, as stored or announced. Default off.
    /// </summary>
    public bool MatchContentType { get; set; }

    /// <summary>Checks the settings; returns the problems found.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket) || Bucket.Length is < 3 or > 63 || Bucket.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.')))
        {
            yield return $"CastIron:{nameof(Bucket)} '{Bucket}' is not a valid bucket name (3-63 lower-case letters, digits, '.' or '-')";
        }

        if (RecoveryInterval <= TimeSpan.Zero)
        {
            yield return $"CastIron:{nameof(RecoveryInterval)} must be positive";
        }
    }
}
