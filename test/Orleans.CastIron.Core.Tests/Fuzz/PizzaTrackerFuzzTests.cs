using System.Globalization;
using CsCheck;
using Orleans.CastIron.Tracking;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests.Fuzz;

public class PizzaTrackerFuzzTests(ITestOutputHelper output)
{
    private static readonly Gen<string> Word = Gen.OneOf("TASK", "task", "PROGRESS", "Progress", "COMMITTED", "END", "end", "HELLO", "");

    private static readonly Gen<string> Argument = Gen.OneOf(
        Gen.OneOf("0", "1", "0.5", "1/2", "3/0", "-1", "1e400", "NaN", "Infinity", "1/2/3", "a/b", " 2 / 4 ", "9223372036854775807", "99999999999999999999"),
        FuzzGen.Noise,
        Gen.Double.Select(d => d.ToString("R", CultureInfo.InvariantCulture)),
        Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture)));

    private static readonly Gen<string> Line = Gen.OneOf(
        Gen.Select(Word, Gen.OneOf(" ", "\t", "  ", ""), Argument, (w, s, a) => w + s + a),
        FuzzGen.Noise,
        Gen.String);

    /// <summary>Valid commands, and the line that writes each.</summary>
    private static readonly Gen<(PizzaTrackerCommand Command, string Line)> Commands = Gen.OneOf(
        Gen.String[Gen.Char["abc xyz-é😀"], 1, 20].Where(t => t.Trim().Length > 0)
            .Select(t => (new PizzaTrackerCommand(PizzaTrackerCommandKind.Task, t.Trim()), "TASK " + t)),
        Gen.Long[0, long.MaxValue].Select(n => (new PizzaTrackerCommand(PizzaTrackerCommandKind.Committed, Number: n), "COMMITTED " + n.ToString(CultureInfo.InvariantCulture))),
        Gen.Double[0, 1].Select(p => (new PizzaTrackerCommand(PizzaTrackerCommandKind.Progress, Number: p), "PROGRESS " + p.ToString("R", CultureInfo.InvariantCulture))),
        Gen.Select(Gen.Int[0, 1000], Gen.Int[1, 1000]).Where(f => f.Item1 <= f.Item2)
            .Select(f => (new PizzaTrackerCommand(PizzaTrackerCommandKind.Progress, Number: f.Item1 / (double)f.Item2), $"PROGRESS {f.Item1}/{f.Item2}")));

    [Fact]
    public void AnyLine_ParsesToAValidCommandOrNothing()
    {
        Line.Sample(line =>
        {
            var command = PizzaTrackerCommand.TryParse(line);
            switch (command?.Kind)
            {
                case null:
                case PizzaTrackerCommandKind.End:
                    break;
                case PizzaTrackerCommandKind.Task:
                    Assert.False(string.IsNullOrWhiteSpace(command.Text));
                    Assert.Equal(command.Text, command.Text!.Trim());
                    Assert.NotNull(command.ToJobEvent("j"));
                    break;
                case PizzaTrackerCommandKind.Progress:
                    Assert.InRange(command.Number, 0.0, 1.0);
                    Assert.NotNull(command.ToJobEvent("j"));
                    break;
                case PizzaTrackerCommandKind.Committed:
                    Assert.True(command.Number >= 0);
                    Assert.NotNull(command.ToJobEvent("j"));
                    break;
            }
        }, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void WrittenCommands_ReadBackTheSame()
    {
        Commands.Sample(c => Assert.Equal(c.Command, PizzaTrackerCommand.TryParse(c.Line)), output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void AStream_ReadsTheSameHoweverItIsCutIntoChunks()
    {
        // A FIFO delivers a stream in arbitrary pieces: lines split anywhere must give the same commands.
        Gen.Select(Gen.OneOf(Line, Commands.Select(c => c.Line)).Array[0, 20], Gen.Int[1, 50].Array[1, 30]).Sample((lines, cuts) =>
        {
            var stream = string.Join('\n', lines);
            var whole = new PizzaTrackerLineBuffer();
            var expected = whole.Append(stream).Concat(whole.Complete()).ToList();

            var chunked = new PizzaTrackerLineBuffer();
            var actual = new List<PizzaTrackerCommand>();
            var position = 0;
            for (var i = 0; position < stream.Length; i++)
            {
                var length = Math.Min(cuts[i % cuts.Length], stream.Length - position);
                actual.AddRange(chunked.Append(stream.AsSpan(position, length)));
                position += length;
            }

            actual.AddRange(chunked.Complete());
            Assert.Equal(expected, actual);
        }, output.WriteLine, iter: FuzzGen.Iterations);
    }
}
