using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Orleans.CastIron.Processing;

/// <summary>
/// Processes a silo starts for processors (shell scripts, Python workers) run as leaders of a process group of their
/// own, started through <c>setsid</c>, so that everything they start can be killed with them.
/// </summary>
internal static partial class ProcessGroups
{
    /// <summary>
    /// <c>setsid</c>, or null when the machine has none. It execs its program as the leader of a new session and
    /// process group (it does not fork: a child we start is never a group leader), so the group's id is the pid.
    /// </summary>
    public static readonly string? Setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    private const int SigKill = 9;
    private const int Esrch = 3;

    /// <summary>True while any process of the group lives.</summary>
    public static bool Exists(int group) => Kill(-group, 0) == 0;

    /// <summary>SIGKILL to every process of the group; 0, or the errno when that failed for another reason than an empty group.</summary>
    public static int KillAll(int group) =>
        Kill(-group, SigKill) == 0 || Marshal.GetLastPInvokeError() == Esrch ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// Kills <paramref name="process"/> (started through <see cref="Setsid"/> when there is one) with its whole group,
    /// and its process tree, which also catches descendants that left the group. Returns 0, or the errno of the group kill.
    /// </summary>
    public static int KillGroupAndTree(Process process)
    {
        var errno = Setsid is null ? 0 : KillAll(process.Id);
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        return errno;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
