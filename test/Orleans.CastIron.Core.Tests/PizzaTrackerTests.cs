using Orleans.CastIron.Tracking;

namespace Orleans.CastIron.Core.Tests;

public class PizzaTrackerCommandTests
{
    [Fact]
    public void Task_ForwardsTheTextAsIs()
    {
        var command = PizzaTrackerCommand.TryParse("TASK parsing rows 1-10")!;

        Assert.Equal(PizzaTrackerCommandKind.Task, command.Kind);
        Assert.Equal("parsing rows 1-10", command.Text);
        Assert.Equal(JobEvent.TaskUpdate("j", "parsing rows 1-10"), command.ToJobEvent("j"));
    }

    [Fact]
    public void Committed_IsAnInteger()
    {
        var command = PizzaTrackerCommand.TryParse("COMMITTED 2713")!;

        Assert.Equal(JobEvent.CommittedUpdate("j", 2713), command.ToJobEvent("j"));
    }

    [Theory]
    [InlineData("PROGRESS 2 / 5", 0.4)]
    [InlineData("PROGRESS 2/5", 0.4)]
    [InlineData("PROGRESS 0.6", 0.6)]
    [InlineData("progress 1", 1.0)]
    [InlineData("Progress 0", 0.0)]
    [InlineData("  PROGRESS\t3/3  ", 1.0)]
    public void Progress_FloatOrFraction(string line, double expected)
    {
        var command = PizzaTrackerCommand.TryParse(line)!;

        Assert.Equal(PizzaTrackerCommandKind.Progress, command.Kind);
        Assert.Equal(expected, command.Number, 10);
    }

    [Theory]
    [InlineData("END")]
    [InlineData(" end ")]
    public void End(string line) => Assert.Equal(PizzaTrackerCommandKind.End, PizzaTrackerCommand.TryParse(line)!.Kind);

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("TASK")]
    [InlineData("TASK   ")]
    [InlineData("COMMITTED many")]
    [InlineData("COMMITTED 1.5")]
    [InlineData("COMMITTED -3")]
    [InlineData("COMMITTED 99999999999999999999999")]
    [InlineData("PROGRESS 1/0")]     // the seed crashed with a division error
    [InlineData("PROGRESS 0/0")]
    [InlineData("PROGRESS 6/5")]     // outside 0..1
    [InlineData("PROGRESS -0.1")]
    [InlineData("PROGRESS NaN")]
    [InlineData("PROGRESS Infinity")]
    [InlineData("PROGRESS 1e400")]
    [InlineData("PROGRESS a/b")]
    [InlineData("PROGRESS 1/2/3")]
    [InlineData("HELLO world")]
    [InlineData("END now")]
    public void Garbage_IsIgnored(string? line) => Assert.Null(PizzaTrackerCommand.TryParse(line));

    [Fact]
    public void HugeLine_IsIgnored()
    {
        Assert.Null(PizzaTrackerCommand.TryParse("TASK " + new string('x', 1_000_000)));
    }
}

public class PizzaTrackerLineBufferTests
{
    [Fact]
    public void SeedScenario_ThreeUpdatesThenEnd()
    {
        var buffer = new PizzaTrackerLineBuffer();

        var commands = buffer.Append("TASK parsing\nPROGRESS 2/5\nCOMMITTED 10\nEND\nTASK after end\n");

        Assert.Equal(
            [JobEvent.TaskUpdate("j", "parsing"), JobEvent.ProgressUpdate("j", 0.4), JobEvent.CommittedUpdate("j", 10)],
            commands.Select(c => c.ToJobEvent("j")));
        Assert.True(buffer.Ended);
        Assert.Empty(buffer.Complete());
    }

    [Fact]
    public void LinesSplitAcrossChunks_AreJoined_AndTheLastLineIsDrainedAtCompletion()
    {
        var buffer = new PizzaTrackerLineBuffer();

        Assert.Empty(buffer.Append("TA"));
        Assert.Single(buffer.Append("SK one\r\nCOMM"));
        Assert.Empty(buffer.Append("ITTED 5"));
        var last = Assert.Single(buffer.Complete());
        Assert.Equal(JobEvent.CommittedUpdate("j", 5), last.ToJobEvent("j"));
    }

    [Fact]
    public void OverlongLine_IsDropped_AndTheNextLineStillCounts()
    {
        var buffer = new PizzaTrackerLineBuffer();

        for (var i = 0; i < 100; i++)
        {
            Assert.Empty(buffer.Append(new string('x', 10_000)));
        }

        var commands = buffer.Append("\nTASK fine\n");

        Assert.Equal("fine", Assert.Single(commands).Text);
    }

    [Fact]
    public void AHundredMegabyteLine_CostsBoundedMemory()
    {
        var buffer = new PizzaTrackerLineBuffer();
        var chunk = new string('x', 64 * 1024);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1600; i++)
        {
            Assert.Empty(buffer.Append(chunk));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Holding the line would cost 200 MB (UTF-16); only the cap's worth is ever kept.
        Assert.True(allocated < 1_000_000, $"allocated {allocated:N0} bytes");
        Assert.Equal("after", Assert.Single(buffer.Append("\nTASK after\n")).Text);
    }
}
