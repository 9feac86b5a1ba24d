using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// Grain state in local files: one file per grain and state name, written to a temporary file and renamed into
/// place (so a crash leaves the old or the new state, never a torn one), with an ETag checked on every write.
/// Chosen for the embedded default over ADO.NET/SQLite because Orleans' SQLite scripts are not shipped in its
/// packages, and files need no schema, survive restarts and can be inspected; it serves one silo on one machine.
/// </summary>
public sealed class FileGrainStorage(string name, string rootPath, IGrainStorageSerializer serializer) : IGrainStorage
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), path =>
        {
            if (!File.Exists(path))
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
                return Task.CompletedTask;
            }

            var (etag, payload) = ReadFile(path);
            grainState.State = serializer.Deserialize<T>(new BinaryData(payload));
            grainState.ETag = etag;
            grainState.RecordExists = true;
            return Task.CompletedTask;
        });

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), async path =>
        {
            CheckETag(path, grainId, grainState.ETag);
            var etag = Guid.NewGuid().ToString("N");
            var payload = serializer.Serialize(grainState.State).ToArray();
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + ".tmp";
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                var header = Encoding.UTF8.GetBytes(etag + "\n");
                await stream.WriteAsync(header).ConfigureAwait(false);
                await stream.WriteAsync(payload).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            grainState.ETag = etag;
            grainState.RecordExists = true;
        });

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        UnderLockAsync(PathOf(stateName, grainId), path =>
        {
            CheckETag(path, grainId, grainState.ETag);
            File.Delete(path);
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Activator.CreateInstance<T>();
            return Task.CompletedTask;
        });

    /// <summary>One read or write of a state file at a time (a grain's calls are serial, but a dying activation's may overlap its successor's).</summary>
    private async Task UnderLockAsync(string path, Func<string, Task> action)
    {
        var gate = _locks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
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

    private void CheckETag(string path, GrainId grainId, string? expected)
    {
        string? current = File.Exists(path) ? ReadFile(path).ETag : null;
        if (!string.Equals(current, expected, StringComparison.Ordinal))
        {
            throw new InconsistentStateException($"grain state of {grainId} in storage '{Name}' changed underneath (stored ETag {current ?? "none"}, expected {expected ?? "none"})", current ?? "", expected ?? "");
        }
    }

    private static (string ETag, byte[] Payload) ReadFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var newline = Array.IndexOf(bytes, (byte)'\n');
        if (newline < 0)
        {
            throw new InvalidDataException($"grain state file '{path}' has no ETag header");
        }

        return (Encoding.UTF8.GetString(bytes, 0, newline), bytes[(newline + 1)..]);
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
