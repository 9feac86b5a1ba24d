using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// An object store over a local folder: <c>&lt;root&gt;/&lt;bucket&gt;/&lt;key&gt;</c>. User metadata lives in a
/// sidecar (<c>&lt;folder&gt;/.castiron-meta/&lt;leaf&gt;.json</c>) hidden from listings; writes go to a temporary file
/// first and are renamed into place, so readers and the watcher never see half an object.
/// </summary>
/// <remarks>
/// Symbolic links inside a bucket are never followed: a link (to a file or a folder) is not an object, is not listed,
/// stat-ed or read, and nothing is written through a folder that is a link; each link is logged once. The bucket
/// folder itself, and the folders above it, are the administrator's choice and may be links.
/// </remarks>
public sealed partial class FolderObjectStore : IObjectStore
{
    internal const string MetaFolderName = ".castiron-meta";
    internal const string TempFolderName = ".castiron-tmp";
    private static readonly JsonSerializerOptions SidecarJson = new() { WriteIndented = false };

    private readonly string _root;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // Links and unreadable folders already logged: each is said once, not at every scan.
    private readonly ConcurrentDictionary<string, bool> _reported = new(StringComparer.Ordinal);

    public FolderObjectStore(LocalFolderOptions options, TimeProvider? time = null, ILogger<FolderObjectStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _root = Path.GetFullPath(options.RootPath);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
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

    /// <summary>
    /// The full path of an object, after validating its key (<see cref="ObjectKeys.Validate"/>): a key whose names do
    /// not fit the file system is an <see cref="ArgumentException"/> naming the problem, never a path error later.
    /// </summary>
    public string ObjectPath(string bucket, string key)
    {
        if (ObjectKeys.Validate(key) is { } problem)
        {
            throw new ArgumentException($"{problem}: '{Printable(key)}'", nameof(key));
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
        if (!Directory.Exists(folder) || LinkOnPath(bucketPath, folder) is not null)
        {
            yield break;
        }

        foreach (var file in EnumerateFiles(bucketPath, folder, recursive))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = KeyOf(bucketPath, file);
            if (ObjectKeys.Validate(key) is not null)
            {
                // Not an object this system touches (the watcher logs why); listing it would hand it on.
                continue;
            }

            if (await StatPathAsync(bucketPath, key, file, cancellationToken).ConfigureAwait(false) is { } info)
            {
                yield return info;
            }
        }
    }

    /// <summary>The object key of a full path inside the bucket folder.</summary>
    internal static string KeyOf(string bucketPath, string path) =>
        Path.GetRelativePath(bucketPath, path).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>
    /// Every object file under <paramref name="folder"/>, skipping our reserved folders and every symbolic link (each
    /// logged once). A folder that cannot be read is logged and skipped; the rest is still listed.
    /// </summary>
    internal IEnumerable<string> EnumerateFiles(string bucketPath, string folder, bool recursive)
    {
        var files = new List<string>();
        var subfolders = new List<string>();
        try
        {
            foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos())
            {
                // An entry gone since it was listed (renamed by a job meanwhile) reads as all attributes (-1): skip it.
                if (IsReserved(entry.Name) || entry.Attributes == (FileAttributes)(-1))
                {
                    continue;
                }

                if (IsLink(entry))
                {
                    ReportLink(bucketPath, entry.FullName);
                }
                else if (entry is DirectoryInfo)
                {
                    subfolders.Add(entry.FullName);
                }
                else
                {
                    files.Add(entry.FullName);
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (_reported.TryAdd("folder:" + folder, true))
            {
                LogFolderUnreadable(ex, Printable(KeyOf(bucketPath, folder)));
            }

            yield break;
        }

        files.Sort(StringComparer.Ordinal);
        foreach (var file in files)
        {
            yield return file;
        }

        if (!recursive)
        {
            yield break;
        }

        subfolders.Sort(StringComparer.Ordinal);
        foreach (var sub in subfolders)
        {
            foreach (var file in EnumerateFiles(bucketPath, sub, recursive: true))
            {
                yield return file;
            }
        }
    }

    public Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
        StatPathAsync(BucketPath(bucket), key, ObjectPath(bucket, key), cancellationToken);

    public Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = ObjectPath(bucket, key);
        return Task.FromResult(OpenObject(bucket, key, path));
    }

    public async Task<ObjectInfo> WriteAsync(string bucket, string key, Stream content, IReadOnlyDictionary<string, string> metadata, string? contentType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = WritablePath(bucket, key);
        var temp = TempPath(bucket);
        try
        {
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await content.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            await CommitAsync(bucket, temp, path, new Sidecar(contentType, Normalize(metadata)), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }

        return (await StatAsync(bucket, key, cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<ObjectInfo> CopyAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        var source = ObjectPath(bucket, sourceKey);
        var destination = WritablePath(bucket, destinationKey);
        var temp = TempPath(bucket);
        try
        {
            // Read through a handle that refuses links, not File.Copy, which would follow one.
            await using (var input = OpenObject(bucket, sourceKey, source))
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await input.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            }

            var sidecar = await ReadSidecarAsync(BucketPath(bucket), source, cancellationToken).ConfigureAwait(false);
            File.SetLastWriteTimeUtc(temp, _time.GetUtcNow().UtcDateTime);
            var newSidecar = metadata is null ? sidecar : sidecar with { Metadata = Normalize(metadata) };
            await CommitAsync(bucket, temp, destination, newSidecar, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }

        return (await StatAsync(bucket, destinationKey, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>A rename on disk: atomic, and no copy of the content.</summary>
    public async Task MoveAsync(string bucket, string sourceKey, string destinationKey, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken = default)
    {
        var bucketPath = BucketPath(bucket);
        var source = ObjectPath(bucket, sourceKey);
        var destination = WritablePath(bucket, destinationKey);
        if (source == destination)
        {
            // A "move" in place still sets the metadata: a file that ends where it is (no archive folder) must carry
            // its final status, or a later listing would take it for unfinished work.
            if (metadata is not null && IsObjectFile(bucketPath, source))
            {
                var current = await ReadSidecarAsync(bucketPath, source, cancellationToken).ConfigureAwait(false);
                await WriteSidecarAsync(bucket, source, current with { Metadata = Normalize(metadata) }, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (!IsObjectFile(bucketPath, source))
        {
            if (IsObjectFile(bucketPath, destination))
            {
                return;
            }

            throw new ObjectNotFoundException(bucket, sourceKey);
        }

        var sidecar = await ReadSidecarAsync(bucketPath, source, cancellationToken).ConfigureAwait(false);
        var newSidecar = metadata is null ? sidecar : sidecar with { Metadata = Normalize(metadata) };
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        try
        {
            await CommitAsync(bucket, source, destination, newSidecar, cancellationToken).ConfigureAwait(false);
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

        DeleteSidecar(bucketPath, source);
    }

    public Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var bucketPath = BucketPath(bucket);
        var path = ObjectPath(bucket, key);
        if (LinkOnPath(bucketPath, Path.GetDirectoryName(path)!) is { } link)
        {
            // Deleting through a linked folder would delete outside the bucket; there is no object here.
            ReportLink(bucketPath, link);
            return Task.CompletedTask;
        }

        // Deleting a link removes the link itself, never what it points to.
        File.Delete(path);
        DeleteSidecar(bucketPath, path);
        return Task.CompletedTask;
    }

    /// <summary>
    /// The path for a new object at <paramref name="key"/>, refused (<see cref="IOException"/>) when a folder on the way
    /// is a symbolic link. A name too long for its metadata sidecar is already refused by key validation.
    /// </summary>
    private string WritablePath(string bucket, string key)
    {
        var path = ObjectPath(bucket, key);
        RefuseLinkedFolder(bucket, Path.GetDirectoryName(path)!);
        return path;
    }

    private void RefuseLinkedFolder(string bucket, string folder)
    {
        var bucketPath = BucketPath(bucket);
        if (LinkOnPath(bucketPath, folder) is { } link)
        {
            ReportLink(bucketPath, link);
            throw new IOException($"'{KeyOf(bucketPath, link)}' in bucket '{bucket}' is a symbolic link; the folder store never writes through a link");
        }
    }

    private async Task CommitAsync(string bucket, string temp, string path, Sidecar sidecar, CancellationToken cancellationToken)
    {
        await WriteSidecarAsync(bucket, path, sidecar, cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }

    private async Task WriteSidecarAsync(string bucket, string path, Sidecar sidecar, CancellationToken cancellationToken)
    {
        var folder = Path.GetDirectoryName(path)!;
        var metaFolder = Path.Combine(folder, MetaFolderName);
        Directory.CreateDirectory(metaFolder);
        RefuseLinkedFolder(bucket, metaFolder);
        // Metadata first, so whoever sees the new object also sees its metadata. The sidecar is written in the
        // bucket's temporary folder: a name beside it (sidecar + suffix) could pass the file-name limit.
        var sidecarPath = SidecarPath(path);
        var sidecarTemp = TempPath(bucket);
        try
        {
            await File.WriteAllBytesAsync(sidecarTemp, JsonSerializer.SerializeToUtf8Bytes(sidecar, SidecarJson), cancellationToken).ConfigureAwait(false);
            File.Move(sidecarTemp, sidecarPath, overwrite: true);
        }
        finally
        {
            File.Delete(sidecarTemp);
        }
    }

    private string TempPath(string bucket)
    {
        var folder = Path.Combine(BucketPath(bucket), TempFolderName);
        Directory.CreateDirectory(folder);
        RefuseLinkedFolder(bucket, folder);
        return Path.Combine(folder, Guid.NewGuid().ToString("N"));
    }

    private const string SidecarSuffix = ".json";

    /// <summary>A file name's limit on common file systems (NAME_MAX), in bytes.</summary>
    private const int MaxFileNameBytes = 255;

    private static string SidecarPath(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, MetaFolderName, Path.GetFileName(path) + SidecarSuffix);

    /// <summary>False for a file whose sidecar name cannot exist (it has no metadata, and no path error either).</summary>
    private static bool SidecarFits(string path) =>
        Encoding.UTF8.GetByteCount(Path.GetFileName(path)) + SidecarSuffix.Length <= MaxFileNameBytes;

    private void DeleteSidecar(string bucketPath, string path)
    {
        if (SidecarFits(path) && LinkOnPath(bucketPath, Path.Combine(Path.GetDirectoryName(path)!, MetaFolderName)) is null)
        {
            File.Delete(SidecarPath(path));
        }
    }

    private async Task<ObjectInfo?> StatPathAsync(string bucketPath, string key, string path, CancellationToken cancellationToken)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return null;
        }

        if (LinkOnPath(bucketPath, path) is { } link)
        {
            ReportLink(bucketPath, link);
            return null;
        }

        var sidecar = await ReadSidecarAsync(bucketPath, path, cancellationToken).ConfigureAwait(false);
        var modified = new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero);
        return new ObjectInfo(key, file.Length, Signature(file.Length, modified), modified, sidecar.ContentType ?? GuessContentType(key), sidecar.Metadata ?? ImmutableDictionary<string, string>.Empty);
    }

    /// <summary>The ETag of the folder store: size and modification time, which change whenever content is replaced.</summary>
    internal static string Signature(long size, DateTimeOffset modified) => $"{size:x}-{modified.UtcTicks:x}";

    private async Task<Sidecar> ReadSidecarAsync(string bucketPath, string path, CancellationToken cancellationToken)
    {
        if (!SidecarFits(path))
        {
            return Sidecar.Empty;
        }

        var sidecarPath = SidecarPath(path);
        if (LinkOnPath(bucketPath, sidecarPath) is { } link)
        {
            // A linked metadata folder or sidecar could forge metadata (an id, a status) from outside the bucket.
            ReportLink(bucketPath, link);
            return Sidecar.Empty;
        }

        try
        {
            var bytes = await File.ReadAllBytesAsync(sidecarPath, cancellationToken).ConfigureAwait(false);
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

    /// <summary>True when <paramref name="path"/> is a regular object file, reached without a link.</summary>
    private bool IsObjectFile(string bucketPath, string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        if (LinkOnPath(bucketPath, path) is { } link)
        {
            ReportLink(bucketPath, link);
            return false;
        }

        return true;
    }

    /// <summary>Opens an object for reading; a link (or a missing file) is <see cref="ObjectNotFoundException"/>.</summary>
    private Stream OpenObject(string bucket, string key, string path)
    {
        var bucketPath = BucketPath(bucket);
        if (LinkOnPath(bucketPath, path) is { } link)
        {
            ReportLink(bucketPath, link);
            throw new ObjectNotFoundException(bucket, key);
        }

        try
        {
            return OpenNoFollow(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(bucket, key);
        }
        catch (IOException ex) when (ex.HResult == ELoop)
        {
            // Replaced by a link after the check above.
            ReportLink(bucketPath, path);
            throw new ObjectNotFoundException(bucket, key);
        }
    }

    /// <summary>
    /// The first path from the bucket folder down to <paramref name="path"/> (inclusive) that is a symbolic link, or
    /// null. The bucket folder itself is not checked.
    /// </summary>
    internal static string? LinkOnPath(string bucketPath, string path)
    {
        var relative = Path.GetRelativePath(bucketPath, path);
        if (relative == "." || relative.StartsWith("..", StringComparison.Ordinal))
        {
            return null;
        }

        var current = bucketPath;
        foreach (var segment in relative.Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, segment);
            if (new FileInfo(current).LinkTarget is not null)
            {
                return current;
            }
        }

        return null;
    }

    // Enumeration reports the entry itself (lstat), where a link is a reparse point.
    private static bool IsLink(FileSystemInfo entry) => entry.Attributes.HasFlag(FileAttributes.ReparsePoint);

    private void ReportLink(string bucketPath, string link)
    {
        if (_reported.TryAdd("link:" + link, true))
        {
            LogLinkSkipped(Printable(KeyOf(bucketPath, link)), new FileInfo(link).LinkTarget ?? "?");
        }
    }

    /// <summary>A name for a log line: control characters (a newline could forge log lines) escaped.</summary>
    internal static string Printable(string name)
    {
        if (!name.Any(char.IsControl))
        {
            return name;
        }

        var text = new StringBuilder(name.Length + 8);
        foreach (var c in name)
        {
            _ = c switch
            {
                '\n' => text.Append("\\n"),
                '\r' => text.Append("\\r"),
                '\t' => text.Append("\\t"),
                _ when char.IsControl(c) => text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }

        return text.ToString();
    }

    // Linux's open() flags: read-only, close-on-exec, and fail with ELOOP on a link rather than follow it.
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000;
    private const int ELoop = 40;

    private static int ONoFollow => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    /// <summary>
    /// Opens a file for reading without following a link in its last segment, closing the gap between the link check
    /// and the open on Linux; elsewhere the check alone stands.
    /// </summary>
    private static FileStream OpenNoFollow(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, useAsync: true);
        }

        var fd = Open(path, ORdOnly | OCloExec | ONoFollow);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                2 => new FileNotFoundException($"'{path}' does not exist", path),
                ELoop => new IOException($"'{path}' is a symbolic link", ELoop),
                _ => new IOException($"could not open '{path}' (errno {errno})", errno),
            };
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            return new FileStream(handle, FileAccess.Read, 81920);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    // DllImport, not LibraryImport: the source-generated form needs unsafe code enabled for the whole project.
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

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

    [LoggerMessage(1, LogLevel.Warning, "'{Link}' is a symbolic link (to '{Target}'); the folder store never follows links, so it is skipped")]
    private partial void LogLinkSkipped(string link, string target);

    [LoggerMessage(2, LogLevel.Warning, "Folder '{Folder}' could not be read; its files are skipped while it cannot be")]
    private partial void LogFolderUnreadable(Exception exception, string folder);

    internal sealed record Sidecar(string? ContentType, ImmutableDictionary<string, string>? Metadata)
    {
        public static readonly Sidecar Empty = new(null, ImmutableDictionary<string, string>.Empty);
    }
}
