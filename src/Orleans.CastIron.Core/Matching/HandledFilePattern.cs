using System.Text.RegularExpressions;

namespace Orleans.CastIron.Matching;

/// <summary>
/// The seed's <c>handled_file_glob</c> (seed-spec F-12), which is a regular-expression suffix alternation and not a
/// shell glob: every space is removed, then the path relative to the config folder must match
/// <c>.*(&lt;pattern&gt;)$</c> from its start. So <c>.csv|.CSV</c> matches names ending in <c>csv</c> or <c>CSV</c>
/// after any character, matching is case-sensitive, and an empty pattern matches every file.
/// </summary>
public sealed class HandledFilePattern
{
    /// <summary>
    /// Upper bound on one match. Matching is linear in the name's length (<see cref="RegexOptions.NonBacktracking"/>),
    /// so this is only a backstop.
    /// </summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(200);

    // NonBacktracking: one registry grain matches every file of a bucket, so a pattern such as (a+)+$ must not make
    // matching exponential. It refuses backreferences, lookarounds and atomic groups, which are reported instead.
    private const RegexOptions Engine = RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    private readonly Regex _regex;

    private HandledFilePattern(string raw, Regex regex)
    {
        Raw = raw;
        _regex = regex;
    }

    /// <summary>The pattern as configured.</summary>
    public string Raw { get; }

    /// <summary>The options the pattern was compiled with.</summary>
    public RegexOptions Options => _regex.Options;

    /// <summary>
    /// Compiles <paramref name="raw"/>. Both the stripped pattern alone and its wrapped form must compile, so a
    /// pattern like <c>a)(b</c> that only compiles once wrapped is refused (seed bug B-17 validated one and
    /// matched with the other). Constructs the linear-time engine cannot run (backreferences, lookarounds, atomic
    /// groups, conditionals) are refused too.
    /// </summary>
    public static bool TryCreate(string raw, out HandledFilePattern? pattern, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(raw);
        var stripped = raw.Replace(" ", "", StringComparison.Ordinal);
        try
        {
            _ = new Regex(stripped, Engine, MatchTimeout);
            var regex = new Regex($"^.*({stripped})$", Engine | RegexOptions.Singleline, MatchTimeout);
            pattern = new HandledFilePattern(raw, regex);
            problem = null;
            return true;
        }
        catch (ArgumentException ex)
        {
            pattern = null;
            problem = $"'{raw}' is not a valid pattern ({ex.Message.TrimEnd('.')}). handled_file_glob is a list of " +
                "regular-expression suffixes such as '_test.tsv|.csv', not a shell glob such as '*.csv'";
            return false;
        }
        catch (NotSupportedException ex)
        {
            pattern = null;
            problem = $"'{raw}' uses a construct that linear-time matching does not support ({ex.Message.TrimEnd('.')}): " +
                "backreferences, lookarounds, atomic groups and conditionals are not allowed in handled_file_glob";
            return false;
        }
    }

    /// <summary>Compiles <paramref name="raw"/> or throws <see cref="ArgumentException"/> naming the problem.</summary>
    public static HandledFilePattern Create(string raw) =>
        TryCreate(raw, out var pattern, out var problem) ? pattern! : throw new ArgumentException(problem, nameof(raw));

    /// <summary>
    /// True when <paramref name="pathRelativeToConfigFolder"/> ends with one of the alternatives. A match that runs
    /// past <see cref="MatchTimeout"/> counts as no match.
    /// </summary>
    public bool IsMatch(string pathRelativeToConfigFolder)
    {
        try
        {
            return _regex.IsMatch(pathRelativeToConfigFolder);
        }
        catch (RegexMatchTimeoutException)
        {
            // Treat a runaway pattern like a non-matching one: the file stays Queued instead of stalling the silo.
            return false;
        }
    }
}
