namespace Orleans.CastIron.Processing;

/// <summary>
/// Copies an object into the job folder without allocating its runs of zeros: a block of zeros is skipped (the
/// target gets a hole) instead of written, so a sparse 1 GB file costs its data, not 1 GB of disk, per attempt.
/// </summary>
public static class SparseCopy
{
    private const int BlockSize = 64 * 1024;

    /// <summary>Copies <paramref name="source"/> to <paramref name="target"/>; fails when more than <paramref name="maxBytes"/> bytes arrive (0: no limit).</summary>
    /// <returns>The number of bytes copied.</returns>
    /// <exception cref="FileTooLargeException">The object is larger than <paramref name="maxBytes"/>.</exception>
    public static async Task<long> CopyAsync(Stream source, FileStream target, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var buffer = new byte[BlockSize];
        long total = 0;
        while (true)
        {
            var read = await ReadBlockAsync(source, buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
            if (maxBytes > 0 && total > maxBytes)
            {
                throw new FileTooLargeException(maxBytes);
            }

            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                target.Seek(read, SeekOrigin.Current);
            }
        }

        // A trailing hole needs the length set; everything else is already in place.
        target.SetLength(total);
        await target.FlushAsync(cancellationToken).ConfigureAwait(false);
        return total;
    }

    private static async Task<int> ReadBlockAsync(Stream source, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await source.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled;
    }
}

/// <summary>An object is larger than <c>CastIron:Processing:MaxFileBytes</c>.</summary>
public sealed class FileTooLargeException(long maxBytes)
    : Exception($"the file is larger than CastIron:Processing:MaxFileBytes ({maxBytes} bytes)")
{
    /// <summary>The limit.</summary>
    public long MaxBytes { get; } = maxBytes;
}
