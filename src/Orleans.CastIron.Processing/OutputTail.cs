using System.Globalization;
using System.Text;

namespace Orleans.CastIron.Processing;

/// <summary>
/// Keeps the last <see cref="Capacity"/> characters of a processor's output (stdout, stderr, exception), which is
/// what an error log shows. Of each line only the first <see cref="MaxLineLength"/> characters are kept, and the
/// rest is counted, so one enormous line costs bounded memory. Thread-safe: stdout and stderr are appended from
/// different threads.
/// </summary>
public sealed class OutputTail(int capacity = OutputTail.DefaultCapacity)
{
    /// <summary>64 KiB, as the error log promises.</summary>
    public const int DefaultCapacity = 64 * 1024;

    /// <summary>Characters kept of one line (8 Ki); the rest of the line is counted, not kept.</summary>
    public const int MaxLineLength = 8 * 1024;

    private readonly StringBuilder _buffer = new();
    private readonly Lock _lock = new();
    private bool _truncated;

    public int Capacity { get; } = capacity;

    /// <summary>Appends one line, cut to <see cref="MaxLineLength"/> characters with a note of what was dropped.</summary>
    public void AppendLine(string? line)
    {
        var text = line.AsSpan();
        AppendLine(text.Length > MaxLineLength ? text[..MaxLineLength] : text, Math.Max(0, text.Length - MaxLineLength));
    }

    private void AppendLine(ReadOnlySpan<char> kept, long dropped)
    {
        lock (_lock)
        {
            _buffer.Append(kept);
            if (dropped > 0)
            {
                _buffer.Append(CultureInfo.InvariantCulture, $" [... {dropped} characters of this line dropped]");
            }

            _buffer.Append('\n');
            if (_buffer.Length > Capacity)
            {
                _buffer.Remove(0, _buffer.Length - Capacity);
                _truncated = true;
            }
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            return _truncated ? "[... earlier output dropped ...]\n" + _buffer : _buffer.ToString();
        }
    }

    /// <summary>A writer that appends here, line by line, holding at most <see cref="MaxLineLength"/> of a line.</summary>
    public TextWriter CreateWriter() => new TailWriter(this);

    private sealed class TailWriter(OutputTail tail) : TextWriter
    {
        private readonly StringBuilder _line = new();
        private long _dropped;

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

        public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

        public override void Write(string? value) => Write(value.AsSpan());

        public override void Write(ReadOnlySpan<char> buffer)
        {
            lock (_line)
            {
                while (!buffer.IsEmpty)
                {
                    var newline = buffer.IndexOf('\n');
                    var part = newline < 0 ? buffer : buffer[..newline];
                    Keep(part);
                    if (newline < 0)
                    {
                        break;
                    }

                    EndLine();
                    buffer = buffer[(newline + 1)..];
                }
            }
        }

        protected override void Dispose(bool disposing)
        {
            Flush();
            base.Dispose(disposing);
        }

        public override void Flush()
        {
            lock (_line)
            {
                if (_line.Length > 0 || _dropped > 0)
                {
                    EndLine();
                }
            }
        }

        /// <summary>Keeps what fits of the current line (without carriage returns) and counts the rest.</summary>
        private void Keep(ReadOnlySpan<char> part)
        {
            foreach (var segment in part.Split('\r'))
            {
                var piece = part[segment];
                var room = MaxLineLength - _line.Length;
                if (piece.Length <= room)
                {
                    _line.Append(piece);
                }
                else
                {
                    _line.Append(piece[..room]);
                    _dropped += piece.Length - room;
                }
            }
        }

        private void EndLine()
        {
            tail.AppendLine(_line.ToString().AsSpan(), _dropped);
            _line.Clear();
            _dropped = 0;
        }
    }
}
