namespace Orleans.CastIron.Files;

/// <summary>
/// The status lifecycle (seed-spec F-17) with its transitions written out:
/// <c>Queued → Processing | Canceled</c>; <c>Processing → Complete | Failed | Canceled</c>;
/// <c>Failed | Canceled → Queued</c> (retry). <c>Complete</c> is final. A new file enters as <c>Queued</c>.
/// </summary>
public static class FileStatusRules
{
    private static readonly ImmutableDictionary<FileStatus, ImmutableHashSet<FileStatus>> Allowed =
        new Dictionary<FileStatus, ImmutableHashSet<FileStatus>>
        {
            [FileStatus.Queued] = [FileStatus.Processing, FileStatus.Canceled],
            [FileStatus.Processing] = [FileStatus.Complete, FileStatus.Failed, FileStatus.Canceled],
            [FileStatus.Complete] = [],
            [FileStatus.Failed] = [FileStatus.Queued],
            [FileStatus.Canceled] = [FileStatus.Queued],
        }.ToImmutableDictionary();

    /// <summary>The status a newly tracked file starts in.</summary>
    public const FileStatus Initial = FileStatus.Queued;

    /// <summary>True when a file may go from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool CanTransition(FileStatus from, FileStatus to) => Allowed[from].Contains(to);

    /// <summary>The statuses reachable from <paramref name="from"/>.</summary>
    public static IReadOnlySet<FileStatus> NextStatuses(FileStatus from) => Allowed[from];

    /// <summary>Throws <see cref="InvalidOperationException"/> naming both statuses when the move is not allowed.</summary>
    public static void EnsureTransition(FileStatus from, FileStatus to)
    {
        if (!CanTransition(from, to))
        {
            var allowed = Allowed[from].Count == 0 ? "none: it is final" : string.Join(", ", Allowed[from].Order());
            throw new InvalidOperationException($"a file cannot go from {from} to {to} (allowed from {from}: {allowed})");
        }
    }

    /// <summary>True for statuses in which nothing runs: Complete, Failed, Canceled.</summary>
    public static bool IsFinal(FileStatus status) => status.IsFinal();

    /// <summary>True when a user may retry a file in this status.</summary>
    public static bool CanRetry(FileStatus status) => CanTransition(status, FileStatus.Queued);

    /// <summary>True when a user may cancel a file in this status.</summary>
    public static bool CanCancel(FileStatus status) => CanTransition(status, FileStatus.Canceled);

    /// <summary>
    /// The job-event status for a final status (<c>success</c>, <c>failure</c>, <c>canceled</c>), or
    /// <see langword="null"/> for statuses that publish none.
    /// </summary>
    public static string? ToJobEventStatus(FileStatus status) => status switch
    {
        FileStatus.Complete => JobEventStatus.Success,
        FileStatus.Failed => JobEventStatus.Failure,
        FileStatus.Canceled => JobEventStatus.Canceled,
        _ => null,
    };

    /// <summary>The seed's status string (<c>Queued</c>, <c>Processing</c>, ...).</summary>
    public static string ToWire(FileStatus status) => status.ToString();

    /// <summary>Reads a seed status string exactly (case-sensitive, as stored by the seed).</summary>
    public static bool TryParse(string? text, out FileStatus status)
    {
        foreach (var candidate in Enum.GetValues<FileStatus>())
        {
            if (string.Equals(text, candidate.ToString(), StringComparison.Ordinal))
            {
                status = candidate;
                return true;
            }
        }

        status = default;
        return false;
    }
}
