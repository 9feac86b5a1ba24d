using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// An object store over a local folder: <c>&lt;root&gt;/&lt;bucket&gt;/&lt;key&gt;</c>. User metadata lives in a
/// sidecar (<c>&lt;folder&gt;/.castiron-meta/&lt;leaf&gt;.json</c>) hidden from listings; writes go to a temporary file
/// first and are renamed into place, so readers and the watcher never see half an object.
/// </summary>
public sealed partial class FolderObjectStore : IObjectStore
{
    internal const string MetaFolderName = ".castiron-meta";
    internal const string TempFolderName = ".castiron-tmp";
    private static readonly JsonSerializerOptions SidecarJson = new() { WriteIndented = false };

    private readonly string _root;
    private readonly TimeProvider _time;

    public FolderObjectStore(LocalFolderOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _root = Path.GetFullPath(options.RootPath);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The full path of a bucket's folder.</summary>
    public string BucketPath(string bucket)
    {
        if (!BucketNameRegex().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{bucket}' is not a valid bucket name (3-63 lower-case letters, digits, '.' or '-')", nameof(bucket));
        }

        return Path.Combine(_root, bucket);
    }

    /// <summary>True for path segments this store uses for itself; they never appear as objects.</summary>
    internal static bool IsReserved(string segment) => segment.StartsWith(".castiron", StringComparison.Ordinal);

    /// <summary>The full path of an object, after validating its key.</summary>
    public string ObjectPath(string bucket, string key)
    {
        if (ObjectKeys.Validate(key) is { } problem)
        {
            throw new ArgumentException($"{problem}: '{key}'", nameof(key));
        }

        if (key.Split('/').Any(IsReserved))
        {
            throw new ArgumentException($"object key '{key}' uses a reserved '.castiron' name", nameof(key));
        }

        var bucketPath = BucketPath(bucket);
        var full = Path.GetFullPath(Path.Combine(bucketPath, key));
        // Defence in depth: validation already refuses '..', but never touch a path outside the bucket.
        if (!full.StartsWith(bucketPath + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"object key '{key}' leaves the bucket folder", nameof(key));
        }

        return full;
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, bool recursive, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var bucketPath = BucketPath(bucket);
        var folder = prefix.Length == 0 ? bucketPath : ObjectPath(bucket, prefix.TrimEnd('/'));
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        foreach (var file in EnumerateFiles(folder, recursive))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(bucketPath, file).Replace(Path.DirectorySeparatorChar, '/');
            if (await StatPathAsync(key, file, cancellationToken).ConfigureAwait(false) is { } info)
            {
                yield return info;
            }
        }
    }

    /// <summary>Every object file under <paramref name="folder"/>, skipping our reserved folders.</summary>
    internal static IEnumerable<string> EnumerateFiles(string folder, bool recursive)
    {
        IEnumerable<string> files;
        try
        {
            files = Directory.EnumerateFiles(folder).Where(f => !IsReserved(Path.GetFileName(f))).Order(StringComparer.Ordinal).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        foreach (var file in files)
        {
            yield return file;
        }

        if (!recursive)
        {
            yield break;
        }

        List<string> subfolders;
        try
        {
            subfolders = [.. Directory.EnumerateDirectories(folder).Where(d => !IsReserved(Path.GetFileName(d))).Order(StringComparer.Ordinal)];
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        foreach (var sub in subfolders)
        {
            foreach (var file in EnumerateFiles(sub, recursive: true))
            {
                yield return file;
            }
        }
    }

    public Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
        StatPathAsync(key, ObjectPath(bucket, key), cancellationToken);

    public Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = ObjectPath(bucket, key);
        try
        {
            return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, useAsync: true));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(bucket, key);
        }
    }

    public async Task<ObjectInfo> WriteAsync(string bucket, string key, Stream content, IReadOnlyDictionary<string, string> metadata, string? contentType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = ObjectPath(bucket, key);
        var temp = TempPath(bucket);
        try
        {
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await content.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            await CommitAsync(temp, path, new Sidecar(contentType, Normalize(metadata)), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }

        return (await StatPathAsync(key, path, cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<ObjectInfo> CopyAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        var source = ObjectPath(bucket, sourceKey);
        var destination = ObjectPath(bucket, destinationKey);
        var sidecar = await ReadSidecarAsync(source, cancellationToken).ConfigureAwait(false);
        var temp = TempPath(bucket);
        try
        {
            try
            {
                File.Copy(source, temp);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new ObjectNotFoundException(bucket, sourceKey);
            }

            File.SetLastWriteTimeUtc(temp, _time.GetUtcNow().UtcDateTime);
            var newSidecar = metadata is null ? sidecar : sidecar with { Metadata = Normalize(metadata) };
            await CommitAsync(temp, destination, newSidecar, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }

        return (await StatPathAsync(destinationKey, destination, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>A rename on disk: atomic, and no copy of the content.</summary>
    public async Task MoveAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        var source = ObjectPath(bucket, sourceKey);
        var destination = ObjectPath(bucket, destinationKey);
        if (source == destination)
        {
            return;
        }

        if (!File.Exists(source))
        {
            if (File.Exists(destination))
            {
                return;
            }

            throw new ObjectNotFoundException(bucket, sourceKey);
        }

        var sidecar = await ReadSidecarAsync(source, cancellationToken).ConfigureAwait(false);
        var newSidecar = metadata is null ? sidecar : sidecar with { Metadata = Normalize(metadata) };
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        try
        {
            await CommitAsync(source, destination, newSidecar, cancellationToken).ConfigureAwait(false);
            // The new modification time marks a new object version, as a copy would. Set on the destination only:
            // touching the source first would show a watcher a "new upload" at the old key for a moment.
            File.SetLastWriteTimeUtc(destination, _time.GetUtcNow().UtcDateTime);
        }
        catch (FileNotFoundException)
        {
            // Moved by a concurrent call meanwhile: the same outcome.
            if (!File.Exists(destination))
            {
                throw new ObjectNotFoundException(bucket, sourceKey);
            }
        }

        File.Delete(SidecarPath(source));
    }

    public Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = ObjectPath(bucket, key);
        File.Delete(path);
        File.Delete(SidecarPath(path));
        return Task.CompletedTask;
    }

    private async Task CommitAsync(string temp, string path, Sidecar sidecar, CancellationToken cancellationToken)
    {
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(Path.Combine(folder, MetaFolderName));
        // Metadata first, so whoever sees the new object also sees its metadata.
        var sidecarPath = SidecarPath(path);
        var sidecarTemp = sidecarPath + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllBytesAsync(sidecarTemp, JsonSerializer.SerializeToUtf8Bytes(sidecar, SidecarJson), cancellationToken).ConfigureAwait(false);
        File.Move(sidecarTemp, sidecarPath, overwrite: true);
        File.Move(temp, path, overwrite: true);
    }

    private string TempPath(string bucket)
    {
        var folder = Path.Combine(BucketPath(bucket), TempFolderName);
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, Guid.NewGuid().ToString("N"));
    }

    private static string SidecarPath(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, MetaFolderName, Path.GetFileName(path) + ".json");

    private static async Task<ObjectInfo?> StatPathAsync(string key, string path, CancellationToken cancellationToken)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return null;
        }

        var sidecar = await ReadSidecarAsync(path, cancellationToken).ConfigureAwait(false);
        var modified = new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero);
        return new ObjectInfo(key, file.Length, Signature(file.Length, modified), modified, sidecar.ContentType ?? GuessContentType(key), sidecar.Metadata ?? ImmutableDictionary<string, string>.Empty);
    }

    /// <summary>The ETag of the folder store: size and modification time, which change whenever content is replaced.</summary>
    internal static string Signature(long size, DateTimeOffset modified) => $"{size:x}-{modified.UtcTicks:x}";

    private static async Task<Sidecar> ReadSidecarAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(SidecarPath(path), cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize<Sidecar>(bytes, SidecarJson) ?? Sidecar.Empty;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Sidecar.Empty;
        }
        catch (JsonException)
        {
            // A hand-edited or truncated sidecar must not make the object unreadable: treat it as no metadata.
            return Sidecar.Empty;
        }
    }

    private static ImmutableDictionary<string, string> Normalize(IReadOnlyDictionary<string, string> metadata) =>
        metadata.ToImmutableDictionary(
            kv => kv.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? kv.Key[11..].ToLowerInvariant() : kv.Key.ToLowerInvariant(),
            kv => kv.Value,
            StringComparer.Ordinal);

    private static string? GuessContentType(string key) => Path.GetExtension(key).ToLowerInvariant() switch
    {
        ".csv" => "text/csv",
        ".tsv" => "text/tab-separated-values",
        ".txt" => "text/plain",
        ".json" => "application/json",
        ".toml" => "application/toml",
        ".pdf" => "application/pdf",
        _ => null,
    };

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketNameRegex();

    internal sealed record Sidecar(string? ContentType, ImmutableDictionary<string, string>? Metadata)
    {
        public static readonly Sidecar Empty = new(null, ImmutableDictionary<string, string>.Empty);
    }
}
