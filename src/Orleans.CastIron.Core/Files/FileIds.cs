using System.Security.Cryptography;
using System.Text;
using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Files;

/// <summary>
/// File ids: the <c>&lt;uuid&gt;</c> of <c>&lt;uuid&gt;-&lt;name&gt;</c> and the key of the file's FileJob grain. An id is
/// derived from the drop itself (bucket, key and the object's version), so every event for one upload reaches the
/// same job however often it is replayed, and a new upload under the same name is a new job.
/// </summary>
public static class FileIds
{
    /// <summary>The metadata key carrying the file id on renamed objects.</summary>
    public const string IdMetadata = "id";

    /// <summary>The id of the upload of <paramref name="key"/> whose version is <paramref name="version"/> (ETag, plus the sequencer or modification time when known).</summary>
    public static string ForDrop(string bucket, string key, string version) =>
        FromHash($"drop\n{bucket}\n{key}\n{version}");

    /// <summary>The id given to a new upload that <paramref name="fileId"/>'s identity could not tell apart (same key and version after the first finished).</summary>
    public static string Successor(string fileId) => FromHash($"next\n{fileId}");

    /// <summary>
    /// The id of an object that already is a tracked file (<c>&lt;id&gt;-&lt;name&gt;</c> with metadata <c>id</c>),
    /// or <see langword="null"/> for a drop that still has to be renamed. Such a file is never renamed again.
    /// </summary>
    public static string? OfRenamed(string key, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.TryGetValue(IdMetadata, out var id) && IsValid(id) && ObjectKeys.Leaf(key).StartsWith(id + "-", StringComparison.Ordinal)
            ? id
            : null;
    }

    /// <summary>The file id for an object: its own when it is already tracked, otherwise the drop's.</summary>
    public static string For(string bucket, string key, string version, IReadOnlyDictionary<string, string> metadata) =>
        OfRenamed(key, metadata) ?? ForDrop(bucket, key, version);

    /// <summary>True for a lower-case 36-character uuid.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: 36 } && Guid.TryParseExact(id, "D", out var parsed) && parsed.ToString("D") == id;

    private static string FromHash(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        var bytes = hash[..16];
        // RFC 9562 version 8 (custom) and variant bits, so the id reads as an ordinary uuid.
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString("D");
    }
}
