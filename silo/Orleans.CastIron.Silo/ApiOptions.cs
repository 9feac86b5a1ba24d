namespace Orleans.CastIron.Silo;

/// <summary>REST API settings (section <c>CastIron:Api</c>).</summary>
public sealed class ApiOptions
{
    /// <summary>
    /// When set, every route that changes something (cancel, retry, start/stop consumers) and config validation
    /// require this value in the <c>X-Api-Key</c> header. Reading routes stay open. Default: none.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Header carrying the key.</summary>
    public const string HeaderName = "X-Api-Key";
}
