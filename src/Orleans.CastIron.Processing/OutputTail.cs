using System.Text;

namespace Orleans.CastIron.Processing;

/// <summary>
/// Keeps the last <see cref="Capacity"/> characters of a processor's output (stdout, stderr, exception), which is
/// what an error log shows. Thread-safe: stdout and stderr are appended from different threads.
/// </summary>
public sealed class OutputTail(int capacity = OutputTail.DefaultCapacity)
{
    /// <summary>64 KiB, as the error log promises.</summary>
    public const int DefaultCapacity = 64 * 1024;

    private readonly StringBuilder _buffer = new();
    private readonly Lock _lock = new();
    private bool _truncated;

    public int Capacity { get; } = capacity;

    public void AppendLine(string? line)
    {
        lock (_lock)
        {
            _buffer.Append(line).Append('\n');
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

    /// <summary>A writer that appends here, line by line.</summary>
    public TextWriter CreateWriter() => new TailWriter(this);

    private sealed class TailWriter(OutputTail tail) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value == '\n')
                {
                    tail.AppendLine(_line.ToString());
                    _line.Clear();
                }
                else if (value != '\r')
                {
                    _line.Append(value);
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
                if (_line.Length > 0)
                {
                    tail.AppendLine(_line.ToString());
                    _line.Clear();
                }
            }
        }
    }
}
