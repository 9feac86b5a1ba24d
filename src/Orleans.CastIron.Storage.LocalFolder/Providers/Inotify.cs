using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Orleans.CastIron.Storage.LocalFolder.Providers;

/// <summary>
/// Linux inotify, called directly (see <c>man 7 inotify</c>).
/// </summary>
/// <remarks>
/// <see cref="FileSystemWatcher"/> uses inotify on Linux too, but folds "closed after writing" into "changed" (it never
/// asks for <c>IN_CLOSE_WRITE</c>), and "changed" also fires for every write of a file still being written. Closed
/// after writing, or renamed in, is the one fact that says a file is complete without waiting for it to settle, so the
/// folder event source asks the kernel for it itself. It also needs <c>IN_DONT_FOLLOW</c>: the folder store never
/// follows a symbolic link, and neither may the watches. Only the calls and constants used are declared here.
/// </remarks>
internal static class Inotify
{
    // Event bits (linux/inotify.h); the same on every architecture .NET runs on.
    public const uint InCloseWrite = 0x00000008;
    public const uint InMovedFrom = 0x00000040;
    public const uint InMovedTo = 0x00000080;
    public const uint InCreate = 0x00000100;
    public const uint InDelete = 0x00000200;
    public const uint InDeleteSelf = 0x00000400;
    public const uint InMoveSelf = 0x00000800;
    public const uint InQueueOverflow = 0x00004000;
    public const uint InIgnored = 0x00008000;

    // Flags of inotify_add_watch: watch only a folder, never through a link, and say nothing more of a file once it
    // has been unlinked (a file deleted while still open would otherwise go on reporting its writes).
    public const uint InOnlyDir = 0x01000000;
    public const uint InDontFollow = 0x02000000;
    public const uint InExclUnlink = 0x04000000;
    public const uint InIsDir = 0x40000000;

    // inotify_init1: close-on-exec (O_CLOEXEC), so processors started by the silo do not inherit the descriptor.
    private const int InCloExec = 0x80000;

    // errno values (asm-generic/errno-base.h).
    public const int ENoEnt = 2;
    public const int EIntr = 4;
    public const int EAccess = 13;
    public const int ENotDir = 20;
    public const int EMFile = 24;
    public const int ENoSpc = 28;

    /// <summary>Size of <c>struct inotify_event</c> before its name: wd, mask, cookie, len.</summary>
    private const int HeaderSize = 16;

    /// <summary>A new inotify instance, or an invalid handle and the errno.</summary>
    public static InotifyHandle Open(out int errno)
    {
        var fd = InotifyInit1(InCloExec);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return new InotifyHandle(fd);
    }

    /// <summary>Watches one folder; returns the watch descriptor, or -1 and the errno.</summary>
    public static int AddWatch(InotifyHandle handle, string path, uint mask, out int errno)
    {
        var wd = InotifyAddWatch(handle, path, mask);
        errno = wd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return wd;
    }

    /// <summary>Stops a watch; the kernel then queues <see cref="InIgnored"/> for it (which also wakes a blocked read).</summary>
    public static void RemoveWatch(InotifyHandle handle, int wd) => _ = InotifyRemoveWatch(handle, wd);

    /// <summary>Blocks until events are queued; returns the bytes read, or -1 and the errno.</summary>
    public static int Read(InotifyHandle handle, byte[] buffer, out int errno)
    {
        var read = ReadNative(handle, buffer, buffer.Length);
        errno = read < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)read;
    }

    /// <summary>The events in the first <paramref name="length"/> bytes of <paramref name="buffer"/>.</summary>
    public static List<InotifyEvent> Parse(byte[] buffer, int length)
    {
        var events = new List<InotifyEvent>();
        var offset = 0;
        while (offset + HeaderSize <= length)
        {
            var wd = BitConverter.ToInt32(buffer, offset);
            var mask = BitConverter.ToUInt32(buffer, offset + 4);
            var nameLength = (int)BitConverter.ToUInt32(buffer, offset + 12);
            var name = "";
            if (nameLength > 0 && offset + HeaderSize + nameLength <= length)
            {
                // The name is NUL-padded to an aligned length.
                var span = buffer.AsSpan(offset + HeaderSize, nameLength);
                var end = span.IndexOf((byte)0);
                name = Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
            }

            events.Add(new InotifyEvent(wd, mask, name));
            offset += HeaderSize + nameLength;
        }

        return events;
    }

    // DllImport, not LibraryImport: the source-generated form needs unsafe code enabled for the whole project.
    [DllImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static extern int InotifyInit1(int flags);

    [DllImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true)]
    private static extern int InotifyAddWatch(InotifyHandle fd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mask);

    [DllImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static extern int InotifyRemoveWatch(InotifyHandle fd, int wd);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    private static extern nint ReadNative(InotifyHandle fd, [Out] byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static extern int Close(int fd);
}

/// <summary>One inotify event: the watch it came from, what happened, and the name inside the watched folder.</summary>
internal readonly record struct InotifyEvent(int Wd, uint Mask, string Name)
{
    public bool Has(uint bits) => (Mask & bits) != 0;
}

/// <summary>
/// The inotify descriptor. A safe handle, so that disposing it while the reader thread is blocked in <c>read</c>
/// closes it only once that call has returned: the descriptor number is never closed under a call still using it,
/// nor reused by another file meanwhile.
/// </summary>
internal sealed class InotifyHandle : SafeHandleMinusOneIsInvalid
{
    public InotifyHandle(int fd)
        : base(ownsHandle: true) => SetHandle(fd);

    protected override bool ReleaseHandle() => Inotify.Close((int)handle) == 0;
}
