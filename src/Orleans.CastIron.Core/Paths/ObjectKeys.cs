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

    /// <summary>
    /// The longest segment (folder or file name), in UTF-8 bytes: 255, a file name's limit on common file systems,
    /// less the 5 of <c>.json</c>, which the folder store's metadata sidecar adds to the name.
    /// </summary>
    public const int MaxSegmentBytes = 255 - 5;

    /// <summary>The length of the <c>&lt;uuid&gt;-</c> prefix a drop is renamed with (36 characters and a dash).</summary>
    public const int RenamePrefixLength = 37;

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
    /// no leading <c>/</c>, no empty, <c>.</c> or <c>..</c> segments, no segment over <see cref="MaxSegmentBytes"/>,
    /// no control characters (a newline included), backslashes or lone surrogates. Such keys could escape a folder-backed store, not
    /// fit its file names, or be misread by S3 tools and logs.
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

        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (char.IsControl(c))
            {
                return "object key contains a control character";
            }

            if (c == '\\')
            {
                return "object key contains a backslash";
            }

            if (char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < key.Length && char.IsLowSurrogate(key[++i])))
            {
                // Not text: it cannot be written as UTF-8 (S3's keys, file names) without becoming another key.
                return "object key is not valid Unicode (a lone surrogate)";
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

            var bytes = Encoding.UTF8.GetByteCount(segment);
            if (bytes > MaxSegmentBytes)
            {
                return $"object key has a name of {bytes} UTF-8 bytes; at most {MaxSegmentBytes} fit a file name with the names derived from it";
            }
        }

        return null;
    }

    /// <summary>The longest file name, in UTF-8 bytes, that <see cref="ValidateRenamable"/> accepts (198).</summary>
    public static int MaxRenamableLeafBytes => MaxSegmentBytes - RenamePrefixLength - StagePaths.ErrorLogSuffix.Length;

    /// <summary>
    /// Checks that <paramref name="key"/> is valid (<see cref="Validate"/>) and stays valid once its file name is
    /// prefixed with <c>&lt;uuid&gt;-</c>, as every drop is renamed, and once that name gets the error log's
    /// <c>_error_log_.txt</c>; the workflow refuses other drops up front instead of failing halfway.
    /// </summary>
    /// <returns><see langword="null"/> when the key can be renamed, otherwise what is wrong.</returns>
    public static string? ValidateRenamable(string? key)
    {
        if (Validate(key) is { } problem)
        {
            return problem;
        }

        var leafBytes = Encoding.UTF8.GetByteCount(Leaf(key!));
        if (leafBytes > MaxRenamableLeafBytes)
        {
            return $"file name is {leafBytes} bytes; renamed <uuid>-<name> (and <uuid>-<name>{StagePaths.ErrorLogSuffix} for its error log) it must fit {MaxSegmentBytes} bytes, so names of at most {MaxRenamableLeafBytes} UTF-8 bytes can be taken";
        }

        if (Encoding.UTF8.GetByteCount(key!) + RenamePrefixLength + StagePaths.ErrorLogSuffix.Length > MaxKeyBytes)
        {
            return $"object key renamed <uuid>-<name> (and given {StagePaths.ErrorLogSuffix} for its error log) would be longer than {MaxKeyBytes} UTF-8 bytes";
        }

        return null;
    }
}
