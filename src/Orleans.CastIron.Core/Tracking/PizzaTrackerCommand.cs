using System.Globalization;

namespace Orleans.CastIron.Tracking;

/// <summary>What a pizza-tracker line asks for.</summary>
public enum PizzaTrackerCommandKind
{
    /// <summary><c>TASK &lt;text&gt;</c></summary>
    Task,

    /// <summary><c>COMMITTED &lt;int&gt;</c></summary>
    Committed,

    /// <summary><c>PROGRESS &lt;float&gt;</c> or <c>PROGRESS &lt;a&gt;/&lt;b&gt;</c></summary>
    Progress,

    /// <summary><c>END</c>: the processor is done writing.</summary>
    End,
}

/// <summary>One parsed pizza-tracker line.</summary>
/// <param name="Kind">The command.</param>
/// <param name="Text">For <see cref="PizzaTrackerCommandKind.Task"/>: the text.</param>
/// <param name="Number">For progress (0..1) and committed (a count).</param>
public sealed record PizzaTrackerCommand(PizzaTrackerCommandKind Kind, string? Text = null, double Number = 0)
{
    /// <summary>Lines longer than this are ignored rather than forwarded.</summary>
    public const int MaxLineLength = 8192;

    /// <summary>
    /// Parses one line of the pizza-tracker protocol (seed-spec F-21). The command word is case-insensitive and
    /// separated from its argument by whitespace. Returns <see langword="null"/> for anything that is not a valid
    /// command: blank lines, unknown commands, missing or unparsable arguments, progress outside 0..1 or with a zero
    /// denominator (which crashed the seed), negative counts and over-long lines. Never throws.
    /// </summary>
    public static PizzaTrackerCommand? TryParse(string? line)
    {
        if (line is null || line.Length > MaxLineLength)
        {
            return null;
        }

        var trimmed = line.Trim();
        if (trimmed.Length == 0)
        {
            return null;
        }

        if (trimmed.Equals("END", StringComparison.OrdinalIgnoreCase))
        {
            return new PizzaTrackerCommand(PizzaTrackerCommandKind.End);
        }

        var split = trimmed.IndexOfAny([' ', '\t']);
        if (split < 0)
        {
            return null;
        }

        var command = trimmed[..split];
        var argument = trimmed[(split + 1)..].Trim();
        if (argument.Length == 0)
        {
            return null;
        }

        if (command.Equals("TASK", StringComparison.OrdinalIgnoreCase))
        {
            return new PizzaTrackerCommand(PizzaTrackerCommandKind.Task, argument);
        }

        if (command.Equals("COMMITTED", StringComparison.OrdinalIgnoreCase))
        {
            return long.TryParse(argument, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) && count >= 0
                ? new PizzaTrackerCommand(PizzaTrackerCommandKind.Committed, Number: count)
                : null;
        }

        if (command.Equals("PROGRESS", StringComparison.OrdinalIgnoreCase))
        {
            return ParseProgress(argument) is { } progress
                ? new PizzaTrackerCommand(PizzaTrackerCommandKind.Progress, Number: progress)
                : null;
        }

        return null;
    }

    private static double? ParseProgress(string argument)
    {
        double value;
        var slash = argument.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!TryNumber(argument[..slash], out var numerator) || !TryNumber(argument[(slash + 1)..], out var denominator) || denominator == 0)
            {
                return null;
            }

            value = numerator / denominator;
        }
        else if (!TryNumber(argument, out value))
        {
            return null;
        }

        return double.IsFinite(value) && value is >= 0.0 and <= 1.0 ? value : null;
    }

    private static bool TryNumber(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>The job event this command produces for <paramref name="jobId"/>, or <see langword="null"/> for <c>END</c>.</summary>
    public JobEvent? ToJobEvent(string jobId) => Kind switch
    {
        PizzaTrackerCommandKind.Task => JobEvent.TaskUpdate(jobId, Text!),
        PizzaTrackerCommandKind.Committed => JobEvent.CommittedUpdate(jobId, (long)Number),
        PizzaTrackerCommandKind.Progress => JobEvent.ProgressUpdate(jobId, Number),
        _ => null,
    };
}
