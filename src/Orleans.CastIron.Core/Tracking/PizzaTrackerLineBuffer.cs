using System.Text;

namespace Orleans.CastIron.Tracking;

/// <summary>
/// Splits a continuous pizza-tracker stream (a FIFO read in chunks) into commands. Text arriving without a newline
/// is kept until the next chunk or <see cref="Complete"/>, which drains the last line (the seed lost lines written
/// just before exit: B-12). A line that grows past <see cref="PizzaTrackerCommand.MaxLineLength"/> is discarded
/// up to its newline, so a runaway writer costs bounded memory.
/// </summary>
public sealed class PizzaTrackerLineBuffer
{
    private readonly StringBuilder _pending = new();
    private bool _discarding;

    /// <summary>True once an <c>END</c> line was read; later lines are ignored.</summary>
    public bool Ended { get; private set; }

    /// <summary>Adds a chunk and returns the commands completed by it.</summary>
    public IReadOnlyList<PizzaTrackerCommand> Append(ReadOnlySpan<char> chunk)
    {
        var commands = new List<PizzaTrackerCommand>();
        while (!chunk.IsEmpty)
        {
            var newline = chunk.IndexOf('\n');
            var part = newline < 0 ? chunk : chunk[..newline];
            if (!_discarding)
            {
                if (_pending.Length + part.Length > PizzaTrackerCommand.MaxLineLength)
                {
                    _pending.Clear();
                    _discarding = true;
                }
                else
                {
                    _pending.Append(part);
                }
            }

            if (newline < 0)
            {
                break;
            }

            TakeLine(commands);
            chunk = chunk[(newline + 1)..];
        }

        return commands;
    }

    /// <summary>Ends the stream and returns the command on a final line that had no newline, if any.</summary>
    public IReadOnlyList<PizzaTrackerCommand> Complete()
    {
        var commands = new List<PizzaTrackerCommand>();
        TakeLine(commands);
        return commands;
    }

    private void TakeLine(List<PizzaTrackerCommand> commands)
    {
        var line = _pending.ToString();
        _pending.Clear();
        var wasDiscarding = _discarding;
        _discarding = false;
        if (wasDiscarding || Ended)
        {
            return;
        }

        if (PizzaTrackerCommand.TryParse(line) is { } command)
        {
            if (command.Kind == PizzaTrackerCommandKind.End)
            {
                Ended = true;
            }
            else
            {
                commands.Add(command);
            }
        }
    }
}
