namespace Orleans.CastIron.Status.ClickHouse.Providers;

/// <summary>
/// Rows on their way to ClickHouse, on local disk: appended to the open segment as they are written (a line of JSON
/// each; the page cache keeps them through a killed process), sent segment by segment in write order, and a segment is
/// deleted only once ClickHouse has all of it. So a status is never lost to ClickHouse being down or the silo
/// dying, memory holds one batch at most, and rows of one file arrive in the order they were written.
/// </summary>
internal sealed class StatusJournal
{
    private const string Prefix = "status-";
    private const string Suffix = ".jsonl";
    private readonly string _folder;
    private readonly Lock _lock = new();
    private FileStream? _open;
    private long _openSequence;
    private int _openLines;

    public StatusJournal(string folder)
    {
        _folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(_folder);
        _openSequence = Segments().Select(s => s.Sequence).DefaultIfEmpty(0).Max() + 1;
    }

    /// <summary>Appends one line to the open segment.</summary>
    public void Append(string line)
    {
        // One write of the whole line, no buffer in between: a failed write leaves at most one torn line at a file's
        // end (which Read drops), never half a line in front of the next record.
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        lock (_lock)
        {
            try
            {
                _open ??= new FileStream(PathOf(_openSequence), FileMode.Append, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
                _open.Write(bytes);
                _openLines++;
            }
            catch (IOException)
            {
                // Disk full or an I/O error: the next append starts a fresh segment.
                try
                {
                    _open?.Dispose();
                }
                catch (IOException)
                {
                }

                _open = null;
                _openSequence++;
                _openLines = 0;
                throw;
            }
        }
    }

    /// <summary>Lines written and not yet acknowledged, roughly (for status pages).</summary>
    public bool HasPending
    {
        get
        {
            lock (_lock)
            {
                return _openLines > 0 || Segments().Any(s => s.Sequence < _openSequence);
            }
        }
    }

    /// <summary>
    /// Closes the open segment (if it holds anything) so it can be sent, and returns every closed segment, oldest
    /// first.
    /// </summary>
    public IReadOnlyList<string> Seal()
    {
        lock (_lock)
        {
            if (_open is not null && _openLines > 0)
            {
                try
                {
                    _open.Dispose();
                }
                catch (IOException)
                {
                    // Every line was written whole already; closing cannot lose one.
                }

                _open = null;
                _openLines = 0;
                _openSequence++;
            }

            return [.. Segments().Where(s => s.Sequence < _openSequence).OrderBy(s => s.Sequence).Select(s => s.Path)];
        }
    }

    /// <summary>The lines of a sealed segment; a torn last line (a crash mid-append) is skipped.</summary>
    public static IEnumerable<string> Read(string segment) =>
        File.ReadLines(segment).Where(line => line.Length > 0 && line[^1] == '}');

    /// <summary>Removes a segment ClickHouse now holds.</summary>
    public static void Acknowledge(string segment) => File.Delete(segment);

    /// <summary>Sets aside a segment ClickHouse keeps refusing, so the rows behind it go on; returns where it went.</summary>
    public string Quarantine(string segment)
    {
        var folder = Path.Combine(_folder, "quarantine");
        Directory.CreateDirectory(folder);
        var target = Path.Combine(folder, Path.GetFileName(segment));
        File.Move(segment, target, overwrite: true);
        return target;
    }

    public void Close()
    {
        lock (_lock)
        {
            _open?.Dispose();
            _open = null;
        }
    }

    private string PathOf(long sequence) => Path.Combine(_folder, $"{Prefix}{sequence:D12}{Suffix}");

    private IEnumerable<(long Sequence, string Path)> Segments()
    {
        foreach (var path in Directory.EnumerateFiles(_folder, $"{Prefix}*{Suffix}"))
        {
            var name = Path.GetFileName(path);
            if (long.TryParse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var sequence))
            {
                yield return (sequence, path);
            }
        }
    }
}
