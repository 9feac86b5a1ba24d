using System.Security.Cryptography;
using System.Text;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// Grain state in local files: one file per grain and state name, written to a temporary file, flushed and renamed
/// into place (a crash leaves the old or the new state, never a torn one), with an ETag checked on every write.
/// Chosen for the embedded default over ADO.NET/SQLite because Orleans' SQLite scripts are not shipped in its
/// packages, and files need no schema, survive restarts and can be inspected; it serves one silo on one machine.
/// All I/O is asynchronous; the ETag check reads only the file's 32-byte header.
/// </summary>
public sealed class FileGrainStorage(string name, string rootPath, IGrainStorageSerializer serializer) : IGrainStorage
{
    private const int ETagLength = 32;

    // Striped, so the number of locks is fixed however many grains were ever stored.
    private readonly SemaphoreSlim[] _stripes = [.. Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1))];

    public string Name { get; } = name;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), async path =>
        {
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(path).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
                return;
            }

            if (bytes.Length <= ETagLength || bytes[ETagLength] != (byte)'\n')
            {
                throw new InvalidDataException($"grain state file '{path}' has no ETag header");
            }

            grainState.State = serializer.Deserialize<T>(new BinaryData(bytes.AsMemory(ETagLength + 1)));
            grainState.ETag = Encoding.ASCII.GetString(bytes, 0, ETagLength);
            grainState.RecordExists = true;
        });

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), async path =>
        {
            await CheckETagAsync(path, grainId, grainState.ETag).ConfigureAwait(false);
            var etag = Guid.NewGuid().ToString("N");
            var payload = serializer.Serialize(grainState.State);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + ".tmp";
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(etag + "\n")).ConfigureAwait(false);
                await stream.WriteAsync(payload.ToMemory()).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
                // Durable before it replaces the old state: the rename is the commit.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            grainState.ETag = etag;
            grainState.RecordExists = true;
        });

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), async path =>
        {
            await CheckETagAsync(path, grainId, grainState.ETag).ConfigureAwait(false);
            File.Delete(path);
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Activator.CreateInstance<T>();
        });

    /// <summary>One read or write of a state file at a time (a grain's calls are serial, but a dying activation's may overlap its successor's).</summary>
    private async Task UnderLockAsync(string path, Func<string, Task> action)
    {
        var gate = _stripes[(uint)StringComparer.Ordinal.GetHashCode(path) % (uint)_stripes.Length];
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await action(path).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task CheckETagAsync(string path, GrainId grainId, string? expected)
    {
        string? current = null;
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            var header = new byte[ETagLength];
            var read = await RandomAccess.ReadAsync(handle, header, 0).ConfigureAwait(false);
            current = Encoding.ASCII.GetString(header, 0, read);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // No stored state: a grain that read none may write, and so may one whose state file was deleted
            // from outside (the state folder removed while running): writing recreates it.
            return;
        }

        if (!string.Equals(current, expected, StringComparison.Ordinal))
        {
            throw new InconsistentStateException($"grain state of {grainId} in storage '{Name}' changed underneath (stored ETag {current ?? "none"}, expected {expected ?? "none"})", current ?? "", expected ?? "");
        }
    }

    private string PathOf(string stateName, GrainId grainId)
    {
        // Grain keys are object keys (any characters): hash them into a safe, fixed-length file name.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grainId.ToString())));
        var safeState = string.Concat(stateName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        var safeType = string.Concat(grainId.Type.ToString()!.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        return Path.Combine(rootPath, safeState, safeType, hash[..2], hash + ".state");
    }
}
