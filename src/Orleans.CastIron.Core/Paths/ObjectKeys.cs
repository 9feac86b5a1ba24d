using System.Text;

namespace Orleans.CastIron.Paths;

/// <summary>
/// POSIX-style object-key algebra (seed-spec F-08) and validation. Keys never start with <c>/</c>; the bucket root
/// is the empty folder <c>""</c> (the seed rendered it as <c>.</c>, which produced <c>./</c> keys: B-32).
/// </summary>
public static class ObjectKeys
{
    /// <summary>S3's limit on key length, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>The folder holding <paramref name="key"/>; <c>""</c> for a key at the bucket root.</summary>
    public static string Parent(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash < 0 ? "" : key[..slash];
    }

    /// <summary>The last segment of <paramref name="key"/> (the file name).</summary>
    public static string Leaf(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash < 0 ? key : key[(slash + 1)..];
    }

    /// <summary>Joins a folder and a relative path; an empty folder means the bucket root.</summary>
    public static string Combine(string folder, string relative) =>
        folder.Length == 0 ? relative : relative.Length == 0 ? folder : $"{folder}/{relative}";

    /// <summary>A sibling of <paramref name="key"/> in the same folder, with leaf <paramref name="newLeaf"/>.</summary>
    public static string Rename(string key, string newLeaf) => Combine(Parent(key), newLeaf);

    /// <summary>
    /// <paramref name="key"/> relative to <paramref name="folder"/>, or <see langword="null"/> when the key is not
    /// inside that folder.
    /// </summary>
    public static string? RelativeTo(string key, string folder)
    {
        if (folder.Length == 0)
        {
            return key;
        }

        return key.Length > folder.Length + 1 && key.StartsWith(folder, StringComparison.Ordinal) && key[folder.Length] == '/'
            ? key[(folder.Length + 1)..]
            : null;
    }

    /// <summary>
    /// Checks that <paramref name="key"/> is a key this system will touch: non-empty, at most 1024 UTF-8 bytes,
    /// no leading <c>/</c>, no empty, <c>.</c> or <c>..</c> segments, no control characters or backslashes.
    /// Such keys could escape a folder-backed store or be misread by S3 tools.
    /// </summary>
    /// <returns><see langword="null"/> when valid, otherwise what is wrong.</returns>
    public static string? Validate(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "object key is empty";
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            return $"object key is longer than {MaxKeyBytes} UTF-8 bytes";
        }

        if (key[0] == '/')
        {
            return "object key must not start with '/'";
        }

        foreach (var c in key)
        {
            if (char.IsControl(c))
            {
                return "object key contains a control character";
            }

            if (c == '\\')
            {
                return "object key contains a backslash";
            }
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "object key contains an empty segment ('//' or a trailing '/')";
            }

            if (segment is "." or "..")
            {
                return $"object key contains a '{segment}' segment";
            }
        }

        return null;
    }
}
