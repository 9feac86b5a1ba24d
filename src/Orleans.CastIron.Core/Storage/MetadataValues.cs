using System.Text;

namespace Orleans.CastIron.Storage;

/// <summary>
/// User metadata travels in HTTP headers, which hold printable ASCII only: any other value (an original file name in
/// Unicode, a newline) is stored RFC 2047-encoded (<c>=?UTF-8?B?…?=</c>, as AWS SDKs do) and decoded when read back,
/// from a stat or from a notification.
/// </summary>
public static class MetadataValues
{
    private const string Prefix = "=?UTF-8?B?";
    private const string Suffix = "?=";

    /// <summary>The value as it can be sent in a header.</summary>
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var plain = !value.StartsWith("=?", StringComparison.Ordinal) && value.All(c => c is >= ' ' and <= '~');
        return plain ? value : Prefix + Convert.ToBase64String(Encoding.UTF8.GetBytes(value)) + Suffix;
    }

    /// <summary>The value as written; a value that is not an encoded word comes back unchanged.</summary>
    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length < Prefix.Length + Suffix.Length || !value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) || !value.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return value;
        }

        var payload = value[Prefix.Length..^Suffix.Length];
        var bytes = new byte[payload.Length];
        return Convert.TryFromBase64String(payload, bytes, out var written) ? Encoding.UTF8.GetString(bytes, 0, written) : value;
    }
}
