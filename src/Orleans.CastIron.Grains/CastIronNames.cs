namespace Orleans.CastIron.Grains;

/// <summary>Provider and state names used across grains and hosts, in one place.</summary>
public static class CastIronNames
{
    /// <summary>The grain storage holding FileJob and registry state.</summary>
    public const string GrainStorage = "castiron";

    /// <summary>The metadata key carrying the file's status on stage moves (seed compatibility; never trusted).</summary>
    public const string StatusMetadata = "status";

    /// <summary>The metadata key carrying the name the file was dropped with.</summary>
    public const string OriginalFilenameMetadata = "originalfilename";

    /// <summary>The metadata key carrying the file id.</summary>
    public const string IdMetadata = "id";

    /// <summary>The <c>job_created</c> uploader when the file names no owner (the seed's constant).</summary>
    public const string DefaultUploader = "castiron";
}
