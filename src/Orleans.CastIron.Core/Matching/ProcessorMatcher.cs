using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Matching;

/// <summary>
/// Chooses the processor for a file (seed-spec F-12). A config is a candidate when the file sits directly in its
/// inbox (sub-folders never match) and its content type or pattern matches. Among candidates the precedence is
/// deterministic, unlike the seed's registry order (B-16): the config whose folder is deepest (most specific) wins,
/// then the one registered first, then the lower config key in ordinal order.
/// </summary>
public static class ProcessorMatcher
{
    /// <summary>Returns every candidate for <paramref name="fileKey"/>, best first.</summary>
    /// <param name="fileKey">The object key of the file (in the inbox).</param>
    /// <param name="processors">The registered, enabled processors.</param>
    /// <param name="contentType">
    /// The file's content type, used only when <paramref name="matchContentType"/> is set: a config listing it in
    /// <c>handled_mimetypes</c> matches even if its pattern does not (the seed's MIME-first order).
    /// </param>
    /// <param name="matchContentType">Whether MIME matching is switched on.</param>
    public static IReadOnlyList<RegisteredProcessor> Candidates(
        string fileKey,
        IEnumerable<RegisteredProcessor> processors,
        string? contentType = null,
        bool matchContentType = false) =>
        [.. InboxOwners(fileKey, processors).Where(p => Matches(p, fileKey, contentType, matchContentType))];

    /// <summary>
    /// The enabled processors whose inbox is the folder of <paramref name="fileKey"/>, whatever their pattern, in
    /// precedence order. A file with no owner is outside every registered inbox and is left alone.
    /// </summary>
    public static IReadOnlyList<RegisteredProcessor> InboxOwners(string fileKey, IEnumerable<RegisteredProcessor> processors)
    {
        ArgumentNullException.ThrowIfNull(fileKey);
        ArgumentNullException.ThrowIfNull(processors);
        return [.. processors
            .Where(p => p.Config.Enabled && p.Paths.IsDirectlyInInbox(fileKey))
            .OrderByDescending(p => p.FolderDepth)
            .ThenBy(p => p.RegistrationOrder)
            .ThenBy(p => p.ConfigKey, StringComparer.Ordinal)];
    }

    /// <summary>The processor that handles <paramref name="fileKey"/>, or <see langword="null"/> when none does.</summary>
    public static RegisteredProcessor? Match(
        string fileKey,
        IEnumerable<RegisteredProcessor> processors,
        string? contentType = null,
        bool matchContentType = false) =>
        Candidates(fileKey, processors, contentType, matchContentType) is [var best, ..] ? best : null;

    private static bool Matches(RegisteredProcessor processor, string fileKey, string? contentType, bool matchContentType)
    {
        if (matchContentType && contentType is not null && processor.Config.HandledMimeTypes.Contains(contentType, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        var relative = ObjectKeys.RelativeTo(fileKey, processor.Paths.ConfigFolder);
        return relative is not null && processor.Pattern.IsMatch(relative);
    }
}
