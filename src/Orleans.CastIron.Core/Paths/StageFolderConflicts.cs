namespace Orleans.CastIron.Paths;

/// <summary>
/// Stage folders shared between configs. Configs may share folders in the same role (several configs on one inbox
/// with different patterns, as the seed allowed), but a folder that is one config's output and another's input (A
/// archives into B's inbox, B into A's) would make files go round forever, so such a config is refused.
/// </summary>
public static class StageFolderConflicts
{
    /// <summary>Every folder of <paramref name="candidate"/> that another config uses in a different role, described for people.</summary>
    public static IReadOnlyList<string> Find(StagePaths candidate, IEnumerable<StagePaths> others)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(others);
        var problems = new List<string>();
        foreach (var other in others)
        {
            foreach (var (folder, role) in Roles(candidate))
            {
                foreach (var (otherFolder, otherRole) in Roles(other))
                {
                    if (role != otherRole && string.Equals(folder, otherFolder, StringComparison.Ordinal))
                    {
                        problems.Add($"its {role} folder '{folder}' is the {otherRole} folder of '{other.ConfigKey}'");
                    }
                }
            }
        }

        return problems;
    }

    /// <summary>The configs sharing <paramref name="candidate"/>'s inbox.</summary>
    public static IEnumerable<StagePaths> SharingInbox(StagePaths candidate, IEnumerable<StagePaths> others) =>
        others.Where(o => string.Equals(o.InboxFolder, candidate.InboxFolder, StringComparison.Ordinal));

    private static IEnumerable<(string Folder, string Role)> Roles(StagePaths paths)
    {
        yield return (paths.InboxFolder, "inbox");
        yield return (paths.ProcessingFolder, "processing");
        if (paths.ArchiveFolder is { } archive)
        {
            yield return (archive, "archive");
        }

        yield return (paths.ErrorFolder, "error");
        yield return (paths.CanceledFolder, "canceled");
    }
}
