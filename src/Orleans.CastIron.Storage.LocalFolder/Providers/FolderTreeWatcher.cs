namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>What the <see cref="FolderTreeWatcher"/> saw, by object key (path relative to the watched folder, with '/').</summary>
internal enum FolderChangeKind
{
    /// <summary>A file was closed after writing, or renamed in: it is complete now.</summary>
    Completed,

    /// <summary>A file was deleted or renamed away.</summary>
    Gone,

    /// <summary>Something only a full scan can tell: a folder came or went, or events were lost (<see cref="FolderChange.Overflow"/>).</summary>
    Rescan,

    /// <summary>A folder could not be watched (<see cref="FolderChange.Problem"/>); its files are found by the scan only.</summary>
    Unwatched,

    /// <summary>The watched folder itself went away, or reading events failed: no more events come from this watcher.</summary>
    Lost,
}

internal readonly record struct FolderChange(FolderChangeKind Kind, string? Key = null, string? Problem = null, bool Overflow = false);

/// <summary>
/// Watches a folder and every folder below it with inotify (Linux only), on a thread of its own blocked in <c>read</c>.
/// Links are never followed (<c>IN_DONT_FOLLOW</c>, and a link found inside is not walked into), our reserved
/// <c>.castiron*</c> folders and files are skipped, and folders created or moved in later are watched as they come.
/// Changes are reported, in the kernel's order, on the watcher's thread: the callback must be quick and must not throw.
/// </summary>
internal sealed class FolderTreeWatcher : IDisposable
{
    private const uint FolderMask =
        Inotify.InCloseWrite | Inotify.InMovedTo | Inotify.InCreate | Inotify.InDelete | Inotify.InMovedFrom |
        Inotify.InDeleteSelf | Inotify.InMoveSelf | Inotify.InOnlyDir | Inotify.InDontFollow | Inotify.InExclUnlink;

    private readonly string _root;
    private readonly InotifyHandle _handle;
    private readonly Action<FolderChange> _report;

    // Only the watcher's thread touches these once it runs (before, only the constructor does).
    private readonly Dictionary<int, string> _folders = [];
    private readonly Dictionary<string, int> _watches = new(StringComparer.Ordinal);
    private readonly Lock _stopLock = new();
    private int _rootWatch = -1;
    private volatile bool _stopping;
    private bool _limitReported;

    private FolderTreeWatcher(string root, InotifyHandle handle, Action<FolderChange> report)
    {
        _root = root;
        _handle = handle;
        _report = report;
    }

    /// <summary>
    /// Starts watching <paramref name="root"/> and the folders below it, or returns null with the reason inotify cannot
    /// be used (not Linux, no instance left, the folder itself cannot be watched). A folder below the root that cannot
    /// be watched (the watch limit reached) is reported as <see cref="FolderChangeKind.Unwatched"/> and left to the scan.
    /// </summary>
    public static FolderTreeWatcher? TryStart(string root, Action<FolderChange> report, out string? problem)
    {
        if (!OperatingSystem.IsLinux())
        {
            problem = "inotify is only available on Linux";
            return null;
        }

        InotifyHandle handle;
        int errno;
        try
        {
            handle = Inotify.Open(out errno);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            problem = ex.Message;
            return null;
        }

        if (handle.IsInvalid)
        {
            handle.Dispose();
            problem = errno == Inotify.EMFile
                ? "the limit of inotify instances is reached (fs.inotify.max_user_instances)"
                : $"inotify_init1 failed (errno {errno})";
            return null;
        }

        var watcher = new FolderTreeWatcher(root, handle, report);
        watcher._rootWatch = watcher.Watch("", out problem);
        if (watcher._rootWatch < 0)
        {
            handle.Dispose();
            return null;
        }

        watcher.WatchBelow("");
        new Thread(watcher.ReadLoop) { IsBackground = true, Name = "castiron-inotify" }.Start();
        return watcher;
    }

    /// <summary>Stops the thread (removing the root watch wakes its <c>read</c>) and closes the descriptor once it returned.</summary>
    public void Dispose()
    {
        lock (_stopLock)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            try
            {
                Inotify.RemoveWatch(_handle, _rootWatch);
            }
            catch (ObjectDisposedException)
            {
                // The thread ended already and closed the descriptor.
            }

            _handle.Dispose();
        }
    }

    private void ReadLoop()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (!_stopping)
            {
                var read = Inotify.Read(_handle, buffer, out var errno);
                if (_stopping)
                {
                    break;
                }

                if (read < 0)
                {
                    if (errno == Inotify.EIntr)
                    {
                        continue;
                    }

                    _report(new FolderChange(FolderChangeKind.Lost, Problem: $"reading inotify events failed (errno {errno})"));
                    break;
                }

                foreach (var e in Inotify.Parse(buffer, read))
                {
                    if (_stopping || !Handle(e))
                    {
                        return;
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed between two reads.
        }
        catch (Exception ex)
        {
            // Never let this thread take the process down: the scan goes on, and the source watches anew.
            _report(new FolderChange(FolderChangeKind.Lost, Problem: $"{ex.GetType().Name}: {ex.Message}"));
        }
        finally
        {
            lock (_stopLock)
            {
                _stopping = true;
                _handle.Dispose();
            }
        }
    }

    /// <summary>One event; false once nothing more can come (the root went away).</summary>
    private bool Handle(InotifyEvent e)
    {
        if (e.Has(Inotify.InQueueOverflow))
        {
            _report(new FolderChange(FolderChangeKind.Rescan, Overflow: true));
            return true;
        }

        if (!_folders.TryGetValue(e.Wd, out var folder))
        {
            // A watch removed meanwhile (its folder moved away): its late events name paths that no longer hold.
            return true;
        }

        if (e.Has(Inotify.InIgnored | Inotify.InDeleteSelf | Inotify.InMoveSelf))
        {
            if (e.Wd == _rootWatch)
            {
                _report(new FolderChange(FolderChangeKind.Lost, Problem: "the bucket folder was removed or moved"));
                return false;
            }

            // A folder below: its parent reports it gone (IN_DELETE / IN_MOVED_FROM); only forget the watch here.
            if (e.Has(Inotify.InIgnored))
            {
                Forget(e.Wd, folder);
            }

            return true;
        }

        if (e.Name.Length == 0 || FolderObjectStore.IsReserved(e.Name))
        {
            return true;
        }

        var key = folder.Length == 0 ? e.Name : folder + "/" + e.Name;
        if (e.Has(Inotify.InIsDir))
        {
            if (e.Has(Inotify.InCreate | Inotify.InMovedTo))
            {
                // Watched from now on; what it already holds (a folder moved in, files written before the watch was
                // added) is found by a scan.
                if (Watch(key, out var problem) >= 0)
                {
                    WatchBelow(key);
                }
                else if (problem is not null)
                {
                    Unwatched(problem);
                }
            }
            else if (e.Has(Inotify.InDelete | Inotify.InMovedFrom))
            {
                Unwatch(key);
            }

            _report(new FolderChange(FolderChangeKind.Rescan, key));
        }
        else if (e.Has(Inotify.InCloseWrite | Inotify.InMovedTo))
        {
            _report(new FolderChange(FolderChangeKind.Completed, key));
        }
        else if (e.Has(Inotify.InDelete | Inotify.InMovedFrom))
        {
            _report(new FolderChange(FolderChangeKind.Gone, key));
        }

        // IN_CREATE of a file: it is being written; its close (or the scan, for a file never closed) says when it is whole.
        return true;
    }

    /// <summary>Adds a watch; -1 with a problem worth reporting, or -1 and no problem when the folder is simply not there (or a link).</summary>
    private int Watch(string folder, out string? problem)
    {
        var path = folder.Length == 0 ? _root : Path.Combine(_root, folder);
        // The bucket folder itself may be a link (the administrator's choice, as for the store); nothing below it is followed.
        var mask = folder.Length == 0 ? FolderMask & ~Inotify.InDontFollow : FolderMask;
        var wd = Inotify.AddWatch(_handle, path, mask, out var errno);
        if (wd < 0)
        {
            problem = errno switch
            {
                Inotify.ENoSpc => "the limit of inotify watches is reached (fs.inotify.max_user_watches)",
                // Gone again, not a folder (a link is not followed, so it is "not a folder"), or not readable: the
                // scan reports what matters.
                Inotify.ENoEnt or Inotify.ENotDir or Inotify.EAccess when folder.Length > 0 => null,
                _ => $"inotify_add_watch failed for '{FolderObjectStore.Printable(folder.Length == 0 ? "." : folder)}' (errno {errno})",
            };
            return -1;
        }

        problem = null;
        if (_folders.TryGetValue(wd, out var previous) && previous != folder)
        {
            // The same folder under a new name (moved before its old watch was dropped).
            _watches.Remove(previous);
        }

        _folders[wd] = folder;
        _watches[folder] = wd;
        return wd;
    }

    /// <summary>Watches every folder below <paramref name="folder"/>, skipping links and our reserved folders.</summary>
    private void WatchBelow(string folder)
    {
        var pending = new Stack<string>();
        pending.Push(folder);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            var path = current.Length == 0 ? _root : Path.Combine(_root, current);
            List<string> children;
            try
            {
                children = [.. new DirectoryInfo(path).EnumerateDirectories()
                    .Where(d => !d.Attributes.HasFlag(FileAttributes.ReparsePoint) && !FolderObjectStore.IsReserved(d.Name))
                    .Select(d => current.Length == 0 ? d.Name : current + "/" + d.Name)];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var child in children)
            {
                if (Watch(child, out var problem) >= 0)
                {
                    pending.Push(child);
                }
                else if (problem is not null)
                {
                    Unwatched(problem);
                }
            }
        }
    }

    /// <summary>Drops the watches of <paramref name="folder"/> and everything below it (it was deleted or moved away).</summary>
    private void Unwatch(string folder)
    {
        var below = folder + "/";
        foreach (var (path, wd) in _watches.Where(w => w.Key == folder || w.Key.StartsWith(below, StringComparison.Ordinal)).ToList())
        {
            Inotify.RemoveWatch(_handle, wd);
            Forget(wd, path);
        }
    }

    private void Forget(int wd, string folder)
    {
        _folders.Remove(wd);
        if (_watches.TryGetValue(folder, out var current) && current == wd)
        {
            _watches.Remove(folder);
        }
    }

    private void Unwatched(string problem)
    {
        // Said once: at the watch limit every new folder would say it again.
        if (!_limitReported)
        {
            _limitReported = true;
            _report(new FolderChange(FolderChangeKind.Unwatched, Problem: problem));
        }
    }
}
